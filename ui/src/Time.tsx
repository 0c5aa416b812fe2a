// Times in Airflow's time zone and date format. Airflow's UI keeps the user's choice in
// localStorage "timezone" as a JSON string (usehooks-ts useLocalStorage) and defaults to the
// browser's zone; it announces changes with a "local-storage" event (other tabs: "storage").
import { type ReactNode, useEffect, useReducer, useState } from "react";

const STORAGE_KEY = "timezone";

const browserZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

const isZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

export function selectedZone(): string {
  try {
    const raw = window.localStorage.getItem(STORAGE_KEY);
    const zone: unknown = raw ? JSON.parse(raw) : undefined;
    if (typeof zone === "string" && isZone(zone)) return zone;
  } catch {
    // Unreadable storage or a value Airflow did not write: fall back like Airflow does.
  }
  return browserZone();
}

/** The time zone selected in Airflow's UI, following later changes. */
export function useTimezone(): string {
  const [zone, setZone] = useState(selectedZone);
  useEffect(() => {
    const update = (event: Event) => {
      const key = (event as StorageEvent).key;
      if (!key || key === STORAGE_KEY) setZone(selectedZone());
    };
    window.addEventListener("storage", update);
    window.addEventListener("local-storage", update);
    return () => {
      window.removeEventListener("storage", update);
      window.removeEventListener("local-storage", update);
    };
  }, []);
  return zone;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** `YYYY-MM-DD HH:mm:ss` in `zone`, Airflow's date format. */
export function formatTime(iso: string, zone: string): string {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, formatter);
  }
  const part = Object.fromEntries(formatter.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}:${part.second}`;
}

/**
 * A time as Airflow shows one; the zone in the tooltip. Empty values show a dash. `compact`: to
 * the minute (a table's date columns), the seconds in the tooltip.
 */
export function Time({ value, compact = false }: { value: string | null | undefined; compact?: boolean }) {
  const zone = useTimezone();
  if (!value) return <span>–</span>;
  const full = formatTime(value, zone);
  return (
    <time dateTime={value} title={`${full} ${zone}`}>
      {compact ? full.slice(0, 16) : full}
    </time>
  );
}

/** The longest a browser timer waits (2^31 - 1 ms, 24.8 days); a later time needs no re-render yet. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Whether `value` is still ahead; the component renders again when it passes. */
export function useAhead(value: string | null | undefined): boolean {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const left = (): number => (value ? Date.parse(value) - Date.now() : 0);
  useEffect(() => {
    const wait = left();
    if (!(wait > 0 && wait < MAX_TIMER_MS)) return;
    const timer = window.setTimeout(rerender, wait + 100);
    return () => window.clearTimeout(timer);
  }, [value]); // eslint-disable-line react-hooks/exhaustive-deps
  return left() > 0;
}

/** How the API writes a time inside a sentence (the CLI's words too): `2026-12-20 22:28 UTC`. */
const inWords = (iso: string): string => `${formatTime(iso, "UTC").slice(0, 16)} UTC`;

/**
 * A sentence of the API with each of `times` it quotes shown as {@link Time}: the API words its
 * notes for every client in UTC, and this page shows every time in Airflow's zone (a note beside
 * the banner's deadline read one time in two zones).
 */
export function WithTimes({ text, times }: { text: string; times: (string | null | undefined)[] }) {
  const byWords = new Map(times.filter((time): time is string => !!time).map((time) => [inWords(time), time]));
  if (byWords.size === 0) return <>{text}</>;
  // The words are digits, dashes, colons, spaces and "UTC": nothing a pattern reads as syntax.
  const pattern = new RegExp(`(${[...byWords.keys()].join("|")})`);
  const parts: ReactNode[] = text.split(pattern).map((part, index) => {
    const time = byWords.get(part);
    return time ? <Time key={index} value={time} /> : part;
  });
  return <>{parts}</>;
}
