import { Text } from "@chakra-ui/react";

import type { Schema } from "../api";
import { errorCode } from "../situation";
import { Time } from "../Time";
import { ValueBadge } from "../ValueBadge";
import { type RowColumn, RowsTable } from "./RowsTable";
import { RunLink } from "./RunLink";

type Entry = Schema<"HealthCheckEntry">;

/** The health fields the history shows (labelled and coloured as the API's vocabulary says). */
const SHOWN = ["status", "name_status", "quality_rating"] as const satisfies (keyof Entry)[];

function columns(vocabulary: Schema<"Vocabulary">): RowColumn<Entry>[] {
  const fields = SHOWN.map((name) => ({ name, info: vocabulary.health_fields.find((field) => field.name === name) }));
  return [
    { header: "Checked", cell: (entry) => <Time value={entry.checked_at} /> },
    { header: "Source", cell: (entry) => <RunLink to={entry.run_url}>{entry.event ?? "health read"}</RunLink> },
    ...fields.map(({ name, info }) => ({
      header: info?.label ?? name,
      cell: (entry: Entry) => <ValueBadge value={entry[name]} severities={info?.severities} />,
    })),
    {
      header: "Error",
      cell: (entry) => (entry.error ? `${entry.error.message ?? entry.error.type} (${errorCode(entry.error)})` : "–"),
    },
  ];
}

export function History({ history, vocabulary }: { history: Entry[]; vocabulary: Schema<"Vocabulary"> }) {
  if (history.length === 0) return <Text color="fg.muted">No health check is stored yet.</Text>;
  return (
    <RowsTable
      rows={history}
      columns={columns(vocabulary)}
      rowKey={(entry, index) => `${entry.checked_at}-${index}`}
      testId="wa-history-row"
    />
  );
}
