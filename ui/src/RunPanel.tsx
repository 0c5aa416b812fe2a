// The WhatsApp tab of a DAG run: the channel that run onboarded, registered, renamed or offboarded.
import { Box, Spinner, Text } from "@chakra-ui/react";

import { CHANNEL_ROUTE } from "./api";
import { AppLink } from "./AppLink";
import { ErrorNote } from "./ErrorNote";
import { channelPagePath } from "./paths";
import { useGet } from "./queries";
import { SituationBadge } from "./SituationBadge";
import { Time } from "./Time";

/** Which runs are about one channel is the API's to say: any other run is a 404. */
export function RunPanel({ dagId, runId }: { dagId: string; runId: string }) {
  const ref = useGet("/api/v1/runs/{dag_id}/{dag_run_id}/channel", { path: { dag_id: dagId, dag_run_id: runId } });
  const health = useGet(`${CHANNEL_ROUTE}/health`, ref.data ? { path: ref.data } : null);
  const channel = health.data;
  const situation = channel?.situation;
  return (
    <Box data-testid="wa-run-panel" p={2}>
      {ref.error?.status === 404 ? (
        <Text color="fg.muted" data-testid="wa-run-panel-none">
          Not a WhatsApp channel run: this run does not act on one WhatsApp number.
        </Text>
      ) : (
        <>
          {ref.error && <ErrorNote error={ref.error} />}
          {health.error && <ErrorNote error={health.error} />}
          {(ref.isPending || health.isFetching) && !channel && <Spinner size="sm" />}
          {channel && situation && (
            <Box>
              <Text fontWeight="semibold">
                {channel.display_phone_number ?? channel.phone_number_id} · {channel.verified_name ?? "no display name yet"}
              </Text>
              <Box my={2}>
                <SituationBadge situation={situation} />
                {situation.since && (
                  <Text as="span" fontSize="sm" ml={2}>
                    since <Time value={situation.since} />
                  </Text>
                )}
              </Box>
              {situation.detail && <Text fontSize="sm">{situation.detail}</Text>}
              <AppLink to={channelPagePath(channel.account_id, channel.inbox_id)} testId="wa-run-panel-link">
                Open this channel in WhatsApp Health
              </AppLink>
            </Box>
          )}
        </>
      )}
    </Box>
  );
}
