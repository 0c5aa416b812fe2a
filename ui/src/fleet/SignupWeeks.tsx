// How long a signup takes to become a registered number, week by week (median and 90th percentile).
import { Table, Text } from "@chakra-ui/react";

import type { Schema } from "../api";

/** A span of seconds in the unit that reads best: minutes, hours up to two days, then days. */
export function formatSpan(seconds: number | null): string {
  if (seconds === null) return "–";
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min`;
  if (seconds < 2 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

/**
 * One row per ISO week (Monday to Sunday, UTC, as the API buckets them), newest first: the
 * registrations Meta accepted that week and how long each took since its signup reached the intake.
 */
export function SignupWeeks({ weeks }: { weeks: Schema<"SignupWeek">[] }) {
  return (
    <Table.Root size="sm" data-testid="wa-trend-weeks" width="auto">
      <Table.Caption captionSide="top" textAlign="start">
        <Text fontSize="sm" color="fg.muted">
          Signup to registered, by week (UTC)
        </Text>
      </Table.Caption>
      <Table.Header>
        <Table.Row>
          <Table.ColumnHeader>Week of</Table.ColumnHeader>
          <Table.ColumnHeader textAlign="end">Registered</Table.ColumnHeader>
          <Table.ColumnHeader textAlign="end">Median</Table.ColumnHeader>
          <Table.ColumnHeader textAlign="end">p90</Table.ColumnHeader>
        </Table.Row>
      </Table.Header>
      <Table.Body>
        {[...weeks].reverse().map((week) => (
          <Table.Row key={week.week_start} data-testid="wa-trend-week" data-week={week.week_start}>
            <Table.Cell>{week.week_start}</Table.Cell>
            <Table.Cell textAlign="end">{week.registrations}</Table.Cell>
            <Table.Cell textAlign="end" data-testid="wa-trend-median">
              {formatSpan(week.median_seconds)}
            </Table.Cell>
            <Table.Cell textAlign="end" data-testid="wa-trend-p90">
              {formatSpan(week.p90_seconds)}
            </Table.Cell>
          </Table.Row>
        ))}
      </Table.Body>
    </Table.Root>
  );
}
