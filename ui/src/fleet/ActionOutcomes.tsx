import { Badge, Box, HStack, Spinner, Table, Text } from "@chakra-ui/react";

import type { Schema } from "../api";
import { AppLink } from "../AppLink";
import { ErrorNote } from "../ErrorNote";
import { PALETTE, type SituationSeverity } from "../severity";
import type { FleetActionState } from "./useFleetAction";

type Outcome = Schema<"FleetActionOutcome">["outcome"];

/** How each number's outcome reads: done is good news, skipped informs, failed needs a look. */
const SEVERITY: Record<Outcome, SituationSeverity> = { done: "ok", skipped: "info", failed: "error" };
const ACTION_WORDS: Record<Schema<"FleetAction">, string> = {
  refresh: "Refresh from Meta",
  register: "Complete registration",
};

/** The bulk action's run: its progress, counts, and each number's outcome as its chunk finishes. */
export function ActionOutcomes({ action }: { action: FleetActionState }) {
  const { queued, result, error, running } = action;
  if (!queued && !error) return null;
  const done = result?.outcomes.length ?? 0;
  return (
    <Box data-testid="wa-bulk-run" data-state={result?.run.state ?? "queued"} borderWidth="1px" borderRadius="md" p={3} my={3}>
      {error && <ErrorNote error={error} />}
      {queued && (
        <HStack gap={3} wrap="wrap" fontSize="sm">
          {running && <Spinner size="xs" />}
          <Text data-testid="wa-bulk-progress">
            {result?.action ? ACTION_WORDS[result.action] : "Bulk action"}: {done} of {result?.total ?? queued.channels}{" "}
            number{(result?.total ?? queued.channels) === 1 ? "" : "s"} done
            {result && ` (run ${result.run.state})`}
          </Text>
          {result &&
            (Object.keys(SEVERITY) as Outcome[]).map((kind) => (
              <Badge key={kind} colorPalette={PALETTE[SEVERITY[kind]]} data-testid={`wa-bulk-count-${kind}`}>
                {kind} {result.counts[kind] ?? 0}
              </Badge>
            ))}
          <AppLink to={result?.run.url ?? queued.url} testId="wa-run-link">
            Open the run in Airflow
          </AppLink>
        </HStack>
      )}
      {result && result.outcomes.length > 0 && (
        <Table.ScrollArea maxH="20rem" mt={2}>
          <Table.Root size="sm" stickyHeader>
            <Table.Header>
              <Table.Row>
                <Table.ColumnHeader>Number</Table.ColumnHeader>
                <Table.ColumnHeader>Outcome</Table.ColumnHeader>
                <Table.ColumnHeader>What happened</Table.ColumnHeader>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {result.outcomes.map((outcome) => (
                <Table.Row
                  key={`${outcome.account_id}-${outcome.inbox_id}`}
                  data-testid="wa-bulk-outcome"
                  data-channel={`${outcome.account_id}-${outcome.inbox_id}`}
                  data-outcome={outcome.outcome}
                >
                  <Table.Cell>{outcome.display_phone_number}</Table.Cell>
                  <Table.Cell>
                    <Badge colorPalette={PALETTE[SEVERITY[outcome.outcome]]}>{outcome.outcome}</Badge>
                  </Table.Cell>
                  <Table.Cell>
                    <Text fontSize="xs">{outcome.message}</Text>
                  </Table.Cell>
                </Table.Row>
              ))}
            </Table.Body>
          </Table.Root>
        </Table.ScrollArea>
      )}
    </Box>
  );
}
