// When the fleet DAG (whatsapp_fleet_health) acts: a channel's next try is the first fleet run at
// or after its backoff, and nothing runs while the DAG is paused. The API reads the DAG's state
// from Airflow (GET /api/v1/fleet/schedule); the page never guesses it.
import { Alert, Text } from "@chakra-ui/react";

import type { Schema } from "./api";
import { AppLink } from "./AppLink";
import { REFRESH_MS, useGet } from "./queries";
import { formatTime, Time, useAhead, useTimezone } from "./Time";

export type Schedule = Schema<"FleetSchedule">;

export const useFleetSchedule = () => useGet("/api/v1/fleet/schedule", {}, { refetchInterval: REFRESH_MS });

/** The first fleet run at or after `due` (the DAG's runs are `interval_seconds` apart), or null while paused. */
export function fleetRunAt(due: string, schedule: Schedule | undefined): string | null {
  if (!schedule) return due;
  if (schedule.paused) return null;
  if (!schedule.next_run) return due;
  const next = Date.parse(schedule.next_run);
  const wanted = Date.parse(due);
  const step = (schedule.interval_seconds ?? 0) * 1000;
  if (wanted <= next || step <= 0) return new Date(Math.max(next, wanted)).toISOString();
  return new Date(next + Math.ceil((wanted - next) / step) * step).toISOString();
}

/**
 * When the fleet acts on a channel: the fleet run after its backoff while that is ahead; "overdue"
 * once the backoff has passed (the fleet acts at its next run, named in the banner); while the fleet
 * DAG is paused, the backoff's end with "the fleet is paused". `wordy`: the banner's sentence.
 */
export function FleetNextTry({
  value,
  schedule,
  wordy = false,
}: {
  value: string | null | undefined;
  schedule: Schedule | undefined;
  wordy?: boolean;
}) {
  const zone = useTimezone();
  const ahead = useAhead(value);
  if (!value) return <span>–</span>;
  const paused = schedule?.paused === true;
  if (!ahead) {
    const nextRun = schedule && !paused ? schedule.next_run : null;
    return (
      <span title={`due ${formatTime(value, zone)} ${zone}`} data-testid="wa-next-try-value" data-paused={paused}>
        overdue
        {wordy &&
          (paused ? (
            <>: the fleet is paused, so nothing is retried until {schedule?.dag_id} is unpaused</>
          ) : nextRun ? (
            <>
              : the fleet acts at its next run, <Time value={nextRun} />
            </>
          ) : null)}
      </span>
    );
  }
  if (paused) {
    return (
      <span data-testid="wa-next-try-value" data-paused>
        <Time value={value} compact={!wordy} />{" "}
        {wordy
          ? `(the backoff's end; the fleet is paused: ${schedule.dag_id} retries nothing until it is unpaused)`
          : "· paused"}
      </span>
    );
  }
  const at = fleetRunAt(value, schedule) ?? value;
  return (
    <span data-testid="wa-next-try-value" title={`backoff ends ${formatTime(value, zone)} ${zone}`}>
      <Time value={at} compact={!wordy} />
      {wordy && at !== value && (
        <>
          {" "}
          (the first fleet run after the backoff, which ends <Time value={value} />)
        </>
      )}
    </span>
  );
}

/** A warning while the fleet DAG is paused, or its last audit is older than two of its runs. */
export function FleetStatusNote({ schedule }: { schedule: Schedule | undefined }) {
  if (!schedule || !(schedule.paused || schedule.audit_overdue)) return null;
  const dag = (
    <AppLink to={schedule.dag_path} testId="wa-fleet-dag-link">
      {schedule.dag_id}
    </AppLink>
  );
  return (
    <Alert.Root
      status="warning"
      my={2}
      data-testid="wa-fleet-status"
      data-state={schedule.paused ? "paused" : "overdue"}
    >
      <Alert.Indicator />
      <Alert.Description>
        {schedule.paused ? (
          <Text as="span">
            The fleet DAG {dag} is paused: no audit runs and nothing is retried until it is unpaused.
          </Text>
        ) : (
          <Text as="span">
            The fleet's last audit{" "}
            {schedule.last_audit_at ? (
              <>
                was at <Time value={schedule.last_audit_at} />, more than two runs ago
              </>
            ) : (
              "has not happened yet"
            )}
            : the fleet is not keeping up; look at {dag}'s runs.
          </Text>
        )}
      </Alert.Description>
    </Alert.Root>
  );
}
