import { Badge } from "@chakra-ui/react";

import type { Schema } from "./api";
import { VALUE_PALETTE } from "./severity";

/**
 * A value as Meta (or the store) spells it, coloured by the severity the API's vocabulary gives
 * it; a value the vocabulary does not know reads neutral, as in the domain. Empty shows a dash.
 */
export function ValueBadge({
  value,
  severities,
}: {
  value: string | null | undefined;
  severities: Record<string, Schema<"Severity">> | undefined;
}) {
  if (!value) return <>–</>;
  return (
    <Badge colorPalette={VALUE_PALETTE[severities?.[value] ?? "neutral"]} variant="surface">
      {value.replaceAll("_", " ")}
    </Badge>
  );
}
