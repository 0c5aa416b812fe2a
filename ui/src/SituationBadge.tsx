import { Badge } from "@chakra-ui/react";

import type { Schema } from "./api";
import { PALETTE } from "./severity";

/** A channel's situation (decided by the API's domain function) as a badge of its severity. */
export function SituationBadge({ situation }: { situation: Schema<"Situation"> }) {
  return (
    <Badge colorPalette={PALETTE[situation.severity]} variant="surface" maxW="full" whiteSpace="normal">
      {situation.title}
    </Badge>
  );
}
