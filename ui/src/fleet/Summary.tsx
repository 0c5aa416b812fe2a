import { Badge, Button, Flex } from "@chakra-ui/react";

import type { Schema } from "../api";
import { bySeverity, PALETTE } from "../severity";
import type { Update } from "./params";

/**
 * Counts that filter: "needs action" and one badge per situation present in the fleet, worded
 * and coloured as the API's vocabulary says. A badge replaces the badge filter (one at a time,
 * like the counts it shows); clicking it again clears it.
 */
export function Summary({
  counts,
  situations,
  params,
  update,
}: {
  counts: Schema<"FleetCounts">;
  situations: Schema<"SituationKindInfo">[];
  params: URLSearchParams;
  update: Update;
}) {
  const kinds = situations
    .map((info) => ({ ...info, n: counts.situation[info.kind] ?? 0 }))
    .filter(({ n }) => n > 0)
    .sort((a, b) => bySeverity(a.severity, b.severity) || a.title.localeCompare(b.title));
  const selected = params.getAll("situation");
  const only = (filter: Record<string, string | null>) => update({ needs_action: null, situation: null, ...filter });
  const needsActionOn = params.get("needs_action") === "true";
  return (
    <Flex wrap="wrap" gap={2}>
      <Button
        data-testid="wa-summary-needs_action"
        size="xs"
        colorPalette="red"
        variant={needsActionOn ? "solid" : "outline"}
        aria-pressed={needsActionOn}
        onClick={() => only({ needs_action: needsActionOn ? null : "true" })}
      >
        Needs action <Badge variant="solid" colorPalette="red">{counts.needs_action}</Badge>
      </Button>
      {kinds.map(({ kind, severity, title, n }) => {
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
