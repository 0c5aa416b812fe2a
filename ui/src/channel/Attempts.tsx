import { Text } from "@chakra-ui/react";

import type { Schema } from "../api";
import { errorCode } from "../situation";
import { Time } from "../Time";
import { type RowColumn, RowsTable } from "./RowsTable";
import { RunLink } from "./RunLink";

type Attempt = Schema<"Attempt">;

/** The columns; an outcome in the API's words (its vocabulary), never the stored enum. */
const columns = (outcomes: Record<string, string>): RowColumn<Attempt>[] => [
  { header: "Sent", cell: (attempt) => <Time value={attempt.attempted_at} /> },
  { header: "Outcome", cell: (attempt) => outcomes[attempt.outcome] ?? attempt.outcome.replaceAll("_", " ") },
  { header: "State after", cell: (attempt) => attempt.resulting_state.replaceAll("_", " ") },
  {
    header: "Meta's answer",
    cell: (attempt) => (attempt.message ? `${attempt.message} (${errorCode(attempt)})` : "–"),
  },
  {
    header: "Run",
    cell: (attempt) => <RunLink to={attempt.run_url}>{attempt.run_url ? (attempt.run_id ?? "run") : "–"}</RunLink>,
  },
];

export function Attempts({ attempts, outcomes }: { attempts: Attempt[]; outcomes: Record<string, string> }) {
  if (attempts.length === 0) return <Text color="fg.muted">No register call was sent for this channel.</Text>;
  return (
    <RowsTable
      rows={attempts}
      columns={columns(outcomes)}
      rowKey={(attempt, index) => `${attempt.attempted_at}-${index}`}
      testId="wa-attempt-row"
    />
  );
}
