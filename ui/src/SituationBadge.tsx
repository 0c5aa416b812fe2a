// How a channel's situation (decided by the API's domain function) looks: one colour per
// severity, distinct in light and dark mode (Chakra palettes, never fixed colours).
import { Badge } from "@chakra-ui/react";

import type { Channel, GraphError, Situation, Severity } from "./api";

export const PALETTE: Record<Severity, string> = { ok: "green", info: "blue", warning: "yellow", error: "red" };

const SEVERITY_RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2, ok: 3 };

export const bySeverity = (a: Severity, b: Severity): number => SEVERITY_RANK[a] - SEVERITY_RANK[b];

/** The channel's situation; an API without situations yet gets a neutral stand-in. */
export function situationOf(channel: Channel): Situation {
  if (channel.situation) return channel.situation;
  const registration = channel.registration;
  return {
    kind: "unknown",
    severity: "info",
    needs_action: false,
    title: `Registration ${registration.state.replaceAll("_", " ")}`,
    detail: "",
    since: null,
    next_try: registration.next_attempt_at,
    deadline: null,
    error: registration.last_error,
    action: { kind: "none", label: "" },
  };
}

export function SituationBadge({ situation }: { situation: Situation }) {
  return (
    <Badge colorPalette={PALETTE[situation.severity]} variant="surface" maxW="full" whiteSpace="normal">
      {situation.title}
    </Badge>
  );
}

/** "code 2388001/-": Meta's error numbers, as support asks for them. */
export const errorCode = (error: { code: number | null; subcode: number | null }): string =>
  `code ${error.code ?? "?"}${error.subcode ? `/${error.subcode}` : ""}`;

/**
 * Meta's refusal, "message (code …)", for a line of its own, or null when there is none or
 * `text` already quotes it: a situation's detail carries Meta's answer, and saying it twice
 * in one box reads as two refusals.
 */
export const metaSaid = (text: string, error: GraphError | null | undefined): string | null =>
  error?.message && !text.includes(error.message) ? `${error.message} (${errorCode(error)})` : null;
