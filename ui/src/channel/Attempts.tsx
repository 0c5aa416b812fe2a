import { Text } from "@chakra-ui/react";

import type { Schema } from "../api";
import { errorCode } from "../situation";
import { Time } from "../Time";
import { type RowColumn, RowsTable } from "./RowsTable";
import { RunLink } from "./RunLink";

type Attempt = Schema<"Attempt">;

const COLUMNS: RowColumn<Attempt>[] = [
  { header: "Sent", cell: (attempt) => <Time value={attempt.attempted_at} /> },
  { header: "Outcome", cell: (attempt) => attempt.outcome },
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

export function Attempts({ attempts }: { attempts: Attempt[] }) {
  if (attempts.length === 0) return <Text color="fg.muted">No register call was sent for this channel.</Text>;
  return (
    <RowsTable
      rows={attempts}
      columns={COLUMNS}
      rowKey={(attempt, index) => `${attempt.attempted_at}-${index}`}
      testId="wa-attempt-row"
    />
  );
}
