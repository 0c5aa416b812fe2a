// How the API's severities look: one Chakra palette each (never fixed colours, so light and dark
// mode both read), and the order the badges take.
import type { Schema } from "./api";

export type SituationSeverity = Schema<"SituationSeverity">;

/** A situation's (or a register outcome's) severity. */
export const PALETTE: Record<SituationSeverity, string> = { ok: "green", info: "blue", warning: "yellow", error: "red" };

/** A health value's severity (the vocabulary's `severities` of each field and state). */
export const VALUE_PALETTE: Record<Schema<"ValueSeverity">, string> = {
  ok: "green",
  neutral: "gray",
  warning: "orange",
  critical: "red",
};

const SEVERITY_RANK: Record<SituationSeverity, number> = { error: 0, warning: 1, info: 2, ok: 3 };

export const bySeverity = (a: SituationSeverity, b: SituationSeverity): number => SEVERITY_RANK[a] - SEVERITY_RANK[b];
