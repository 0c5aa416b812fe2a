import { Badge } from "@chakra-ui/react";

import type { Schema } from "../api";
import { VALUE_PALETTE } from "../severity";

/**
 * One sync's state in the API's words (the history's progress included), coloured by the
 * severity the vocabulary gives that state; a sync the channel keeps no state for reads neutral.
 */
export function SyncBadge({
  sync,
  states,
}: {
  sync: Schema<"Sync">;
  states: Schema<"BusinessAppInfo">["sync_states"];
}) {
  const severity = sync.state ? (states[sync.state]?.severity ?? "neutral") : "neutral";
  return (
    <Badge colorPalette={VALUE_PALETTE[severity]} variant="surface" whiteSpace="normal" data-state={sync.state ?? ""}>
      {sync.text}
    </Badge>
  );
}
