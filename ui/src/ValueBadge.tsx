import { Badge } from "@chakra-ui/react";

import type { Schema } from "./api";
import { VALUE_PALETTE } from "./severity";

/**
 * A value as Meta (or the store) spells it. A field whose values the API's vocabulary grades
 * shows a badge of the value's severity (one the vocabulary does not know reads neutral, as in
 * the domain); a free value (a name, a number) shows as it is. Empty shows a dash.
 */
export function ValueBadge({
  value,
  severities,
}: {
  value: string | null | undefined;
  severities: Record<string, Schema<"ValueSeverity">> | undefined;
}) {
  if (!value) return <>–</>;
  if (!severities || Object.keys(severities).length === 0) return <>{value}</>;
  return (
    <Badge colorPalette={VALUE_PALETTE[severities[value] ?? "neutral"]} variant="surface">
      {value.replaceAll("_", " ")}
    </Badge>
  );
}
