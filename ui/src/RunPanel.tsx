// The WhatsApp tab of a DAG run: the channel that run onboarded, registered, renamed or offboarded.
import { Box, Spinner, Text } from "@chakra-ui/react";

import { type Channel, channelPath, useApi } from "./api";
import { ErrorNote } from "./ErrorNote";
import { AppLink, channelPagePath } from "./links";
import { situationOf, SituationBadge } from "./situation";
import { Time } from "./time";

/** The provider's DAGs whose runs act on one channel (their conf names it). */
const CHANNEL_DAGS = new Set([
  "whatsapp_onboarding",
  "whatsapp_register_channel",
  "whatsapp_change_display_name",
  "whatsapp_offboard_channel",
]);

export function RunPanel({ dagId, runId }: { dagId: string; runId: string }) {
  const isChannelRun = CHANNEL_DAGS.has(dagId);
  const ref = useApi<{ account_id: number; inbox_id: number }>(
    isChannelRun ? `runs/${encodeURIComponent(dagId)}/${encodeURIComponent(runId)}/channel` : null,
  );
  const health = useApi<Channel>(ref.data ? `${channelPath(ref.data.account_id, ref.data.inbox_id)}/health` : null);
  const channel = health.data;
  return (
    <Box data-testid="wa-run-panel" p={2}>
      {!isChannelRun || ref.error?.status === 404 ? (
        <Text color="fg.muted" data-testid="wa-run-panel-none">
          Not a WhatsApp channel run: this run does not act on one WhatsApp number.
        </Text>
      ) : (
        <>
          {ref.error && <ErrorNote error={ref.error} />}
          {health.error && <ErrorNote error={health.error} />}
          {(ref.loading || health.loading) && !channel && <Spinner size="sm" />}
          {channel && (
            <Box>
              <Text fontWeight="semibold">
                {channel.display_phone_number ?? channel.phone_number_id} · {channel.verified_name ?? "no display name yet"}
              </Text>
              <Box my={2}>
                <SituationBadge situation={situationOf(channel)} />
                {situationOf(channel).since && (
                  <Text as="span" fontSize="sm" ml={2}>
                    since <Time value={situationOf(channel).since} />
                  </Text>
                )}
              </Box>
              {situationOf(channel).detail && <Text fontSize="sm">{situationOf(channel).detail}</Text>}
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
