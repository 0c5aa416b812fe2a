// Needs-action and healthy channels at each saved fleet summary, drawn with Chart.js through
// react-chartjs-2: the chart library of Airflow's own UI (its dashboard and run-duration charts),
// registered here with only the pieces a line chart needs so the bundle carries no more of it.
// Times on the axis and in the tooltip are in Airflow's time zone, like every time on the page.
import { Box } from "@chakra-ui/react";
import {
  Chart as ChartJS,
  type ChartOptions,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { useEffect, useRef, useState } from "react";
import { Line } from "react-chartjs-2";

import type { Schema } from "../api";
import { formatTime, useTimezone } from "../Time";

ChartJS.register(LineController, LineElement, PointElement, LinearScale, Tooltip, Legend);

type Point = Schema<"FleetTrendPoint">;

/** Chakra's semantic colours the chart uses: a canvas takes colours, not CSS variables. */
const TOKENS = {
  needsAction: "--chakra-colors-red-solid",
  healthy: "--chakra-colors-green-solid",
  text: "--chakra-colors-fg-muted",
  grid: "--chakra-colors-border",
} as const;

type Colors = Record<keyof typeof TOKENS, string>;

const readColors = (element: Element): Colors => {
  const style = getComputedStyle(element);
  const read = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    needsAction: read(TOKENS.needsAction, "#dc2626"),
    healthy: read(TOKENS.healthy, "#16a34a"),
    text: read(TOKENS.text, "#71717a"),
    grid: read(TOKENS.grid, "#e4e4e7"),
  };
};

/** The theme's colours at `ref`, read again when Airflow switches light and dark mode (a class on <html>). */
function useThemeColors(ref: React.RefObject<HTMLDivElement | null>): Colors | null {
  const [colors, setColors] = useState<Colors | null>(null);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const update = () => setColors(readColors(element));
    update();
    const observer = new MutationObserver(update);
    observer.observe(document.documentElement, {
      attributes: true,
      attributeFilter: ["class", "style", "data-theme"],
    });
    return () => observer.disconnect();
  }, [ref]);
  return colors;
}

const QUARTER_HOUR_MS = 15 * 60_000;
const MAX_DAY_TICKS = 7;

/**
 * Midnights in `zone` between `min` and `max` (ms), at most {@link MAX_DAY_TICKS} of them, evenly
 * picked: the axis then reads as days wherever the reader is (a zone may be a quarter hour off UTC).
 */
function midnights(min: number, max: number, zone: string): number[] {
  const found: number[] = [];
  for (let t = Math.ceil(min / QUARTER_HOUR_MS) * QUARTER_HOUR_MS; t <= max; t += QUARTER_HOUR_MS) {
    if (formatTime(new Date(t).toISOString(), zone).endsWith(" 00:00:00")) found.push(t);
  }
  const every = Math.ceil(found.length / MAX_DAY_TICKS);
  return found.filter((_, index) => index % every === 0);
}

/**
 * The chart; `compact` (the dashboard card) drops the legend, the points and the time axis.
 * Its box names what it draws (`aria-label`, `data-points`), which the canvas cannot.
 */
export function TrendChart({
  points,
  height,
  compact = false,
}: {
  points: Point[];
  height: number;
  compact?: boolean;
}) {
  const zone = useTimezone();
  const box = useRef<HTMLDivElement>(null);
  const colors = useThemeColors(box);
  const at = (value: number | string) => formatTime(new Date(value).toISOString(), zone);
  const first = points[0];
  const last = points[points.length - 1];
  const days = first && last ? midnights(Date.parse(first.time), Date.parse(last.time), zone) : [];
  const span = first && last ? `${at(first.time)} to ${at(last.time)} ${zone}` : "";
  const label = span
    ? `Needs action and healthy channels at ${points.length} fleet audits, ${span}`
    : "No fleet audit saved yet";

  const series = (key: "needs_action" | "healthy") =>
    points.map((point) => ({ x: Date.parse(point.time), y: point[key] ?? null }));
  const options: ChartOptions<"line"> = {
    animation: false,
    maintainAspectRatio: false,
    parsing: false,
    spanGaps: true,
    interaction: { mode: "index", intersect: false },
    elements: { point: { radius: compact ? 0 : 1.5, hitRadius: 6 }, line: { borderWidth: compact ? 1.5 : 2 } },
    plugins: {
      legend: { display: !compact, labels: { color: colors?.text, boxWidth: 12 } },
      tooltip: { callbacks: { title: (items) => (items[0] ? `${at(items[0].parsed.x ?? 0)} ${zone}` : "") } },
    },
    scales: {
      x: {
        type: "linear",
        display: !compact,
        min: first ? Date.parse(first.time) : undefined,
        max: last ? Date.parse(last.time) : undefined,
        // Midnights as MM-DD when the span holds two or more, else MM-DD HH:mm of Airflow's format.
        afterBuildTicks: (axis) => {
          if (days.length > 1) axis.ticks = days.map((value) => ({ value }));
        },
        ticks: {
          color: colors?.text,
          maxTicksLimit: 6,
          maxRotation: 0,
          callback: (value) => at(value).slice(5, days.length > 1 ? 10 : 16),
        },
        grid: { color: colors?.grid },
      },
      y: {
        beginAtZero: true,
        ticks: { color: colors?.text, precision: 0, maxTicksLimit: compact ? 3 : 6 },
        grid: { color: colors?.grid },
      },
    },
  };
  const data = {
    datasets: [
      {
        label: "Needs action",
        data: series("needs_action"),
        borderColor: colors?.needsAction,
        backgroundColor: colors?.needsAction,
      },
      { label: "Healthy", data: series("healthy"), borderColor: colors?.healthy, backgroundColor: colors?.healthy },
    ],
  };
  return (
    <Box
      ref={box}
      data-testid="wa-trend-chart"
      data-points={points.length}
      role="img"
      aria-label={label}
      h={`${height}px`}
      position="relative"
    >
      {colors && first && <Line data={data} options={options} aria-hidden />}
    </Box>
  );
}
