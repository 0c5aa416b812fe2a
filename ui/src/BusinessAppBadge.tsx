import { Badge } from "@chakra-ui/react";

import type { Schema } from "./api";

/**
 * "WhatsApp Business app + API": the number is on the customer's WhatsApp Business app and on
 * Cloud API at once (Meta's "coexistence"). The label is the API's, as every word the page shows.
 */
export function BusinessAppBadge({ app, size = "sm" }: { app: Schema<"BusinessApp">; size?: "xs" | "sm" | "md" }) {
  return (
    <Badge data-testid="wa-business-app-badge" colorPalette="teal" variant="subtle" size={size} whiteSpace="normal">
      {app.label}
    </Badge>
  );
}
