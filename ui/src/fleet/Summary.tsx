import { Badge, Button, Flex } from "@chakra-ui/react";
import { useState } from "react";

import type { Schema } from "../api";
import { bySeverity, PALETTE, type SituationSeverity } from "../severity";
import type { Update } from "./params";

/** Each group's badge colour: the severity its kinds share at worst. */
const GROUP_SEVERITY: Record<Schema<"SituationGroup">, SituationSeverity> = {
  needs_action: "error",
  waiting: "warning",
  healthy: "ok",
};

/**
 * Counts that filter, in one row: the three groups the API's vocabulary folds the kinds into
 * (needs action, waiting, healthy), each with its total; "Kinds" unfolds one badge per situation
 * present. A badge replaces the badge filter (one at a time, like the counts it shows); clicking
 * it again clears it. The kinds stay unfolded while one of them is the filter.
 */
export function Summary({
  counts,
  vocabulary,
  params,
  update,
}: {
  counts: Schema<"FleetCounts">;
  vocabulary: Schema<"Vocabulary">;
  params: URLSearchParams;
  update: Update;
}) {
  const selected = params.getAll("situation");
  const [unfolded, setUnfolded] = useState(selected.length === 1);
  const kinds = vocabulary.situations
    .map((info) => ({ ...info, n: counts.situation[info.kind] ?? 0 }))
    .filter(({ n }) => n > 0)
    .sort((a, b) => bySeverity(a.severity, b.severity) || a.title.localeCompare(b.title));
  const only = (filter: Record<string, string | string[] | null>) =>
    update({ needs_action: null, situation: null, ...filter });
  const needsActionOn = params.get("needs_action") === "true";
  const sameKinds = (kinds_: string[]) =>
    selected.length === kinds_.length && kinds_.every((kind) => selected.includes(kind));
  return (
    <Flex wrap="wrap" gap={2} align="center" data-testid="wa-summary">
      {vocabulary.situation_groups.map(({ group, title, kinds: members }) => {
        const present = members.filter((kind) => (counts.situation[kind] ?? 0) > 0);
        const total = members.reduce((sum, kind) => sum + (counts.situation[kind] ?? 0), 0);
        // "Needs action" filters by the API's needs_action (the same set); the others by their kinds.
        const on = group === "needs_action" ? needsActionOn : present.length > 0 && sameKinds(present);
        const filter = () =>
          group === "needs_action"
            ? only({ needs_action: on ? null : "true" })
            : only({ situation: on || present.length === 0 ? null : present });
        return (
          <Button
            key={group}
            data-testid={group === "needs_action" ? "wa-summary-needs_action" : `wa-summary-group-${group}`}
            data-group={group}
            size="xs"
            colorPalette={PALETTE[GROUP_SEVERITY[group]]}
            variant={on ? "solid" : "outline"}
            aria-pressed={on}
            onClick={filter}
          >
            {title}{" "}
            <Badge variant={group === "needs_action" ? "solid" : "subtle"} colorPalette={PALETTE[GROUP_SEVERITY[group]]}>
              {group === "needs_action" ? counts.needs_action : total}
            </Badge>
          </Button>
        );
      })}
      <Button
        data-testid="wa-summary-kinds"
        size="xs"
        variant="ghost"
        aria-expanded={unfolded}
        onClick={() => setUnfolded(!unfolded)}
      >
        {unfolded ? "Hide kinds ▴" : `Kinds (${kinds.length}) ▾`}
      </Button>
      {unfolded &&
        kinds.map(({ kind, severity, title, n }) => {
          const on = selected.length === 1 && selected[0] === kind;
          return (
            <Button
              key={kind}
              data-testid={`wa-summary-${kind}`}
              size="xs"
              colorPalette={PALETTE[severity]}
              variant={on ? "solid" : "outline"}
              aria-pressed={on}
              onClick={() => only({ situation: on ? null : kind })}
            >
              {title} <Badge variant="subtle">{n}</Badge>
            </Button>
          );
        })}
    </Flex>
  );
}
