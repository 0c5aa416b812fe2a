import { Button, HStack, Text } from "@chakra-ui/react";

import type { Schema } from "../api";
import { GuardedButton } from "../channel/GuardedButton";
import { ActionOutcomes } from "./ActionOutcomes";
import type { FleetActionBody, FleetActionState } from "./useFleetAction";
import type { Selection } from "./useSelection";

type Filter = NonNullable<FleetActionBody["filter"]>;

/**
 * What to do with the rows ticked (or all that match the filter): *Refresh from Meta* or
 * *Complete registration* on all of them in one Airflow run. A role that may not trigger
 * `whatsapp_fleet_action` sees the buttons disabled with the reason, as on a channel.
 */
export function ActionBar({
  selection,
  pageKeys,
  total,
  filter,
  permission,
  action,
}: {
  selection: Selection;
  pageKeys: string[];
  total: number;
  filter: Filter;
  permission?: Schema<"Permission">;
  action: FleetActionState;
}) {
  const count = selection.all ? total : selection.keys.size;
  const pageSelected = pageKeys.length > 0 && pageKeys.every((key) => selection.has(key));
  const start = (kind: Schema<"FleetAction">) => {
    const body: FleetActionBody = selection.all
      ? { action: kind, filter }
      : {
          action: kind,
          channels: [...selection.keys].map((key) => {
            const [account_id, inbox_id] = key.split("-").map(Number);
            return { account_id, inbox_id };
          }),
        };
    action.start(body);
  };
  return (
    <>
      {count > 0 && (
        <HStack data-testid="wa-bulk-bar" gap={3} my={2} p={2} wrap="wrap" borderWidth="1px" borderRadius="md" bg="bg.muted">
          <Text fontSize="sm" data-testid="wa-bulk-count">
            {selection.all ? `All ${total} matching channels selected` : `${count} selected`}
          </Text>
          {!selection.all && pageSelected && total > count && (
            <Button data-testid="wa-select-all-matching" size="xs" variant="outline" onClick={selection.selectAll}>
              Select all {total} matching
            </Button>
          )}
          <Button data-testid="wa-clear-selection" size="xs" variant="ghost" onClick={selection.clear}>
            Clear selection
          </Button>
          <GuardedButton testId="wa-bulk-refresh" permission={permission} busy={action.running} onClick={() => start("refresh")}>
            Refresh from Meta
          </GuardedButton>
          <GuardedButton
            testId="wa-bulk-register"
            variant="outline"
            permission={permission}
            busy={action.running}
            onClick={() => start("register")}
          >
            Complete registration
          </GuardedButton>
        </HStack>
      )}
      <ActionOutcomes action={action} />
    </>
  );
}
