import { Badge, Button } from "@chakra-ui/react";

import { includeInactiveOf, type Update } from "./params";

/**
 * How many channels are offboarded (the counts and the listing leave them out), and the switch
 * that lists them too, search included; their rows open their channel view like any other.
 */
export function OffboardedToggle({
  count,
  params,
  update,
}: {
  count: number;
  params: URLSearchParams;
  update: Update;
}) {
  const on = includeInactiveOf(params);
  return (
    <Button
      data-testid="wa-offboarded-toggle"
      size="xs"
      colorPalette="gray"
      variant={on ? "solid" : "outline"}
      aria-pressed={on}
      title={on ? "Hide offboarded channels" : "List offboarded channels too"}
      onClick={() => update({ include_inactive: on ? null : "true" })}
    >
      {on ? "Including offboarded" : "Offboarded"}{" "}
      <Badge data-testid="wa-offboarded-count" variant="subtle">
        {count}
      </Badge>
    </Button>
  );
}
