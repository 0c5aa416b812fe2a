// One channel: its situation as one banner with the action that fits, what Complete
// registration did at Meta (polled until the run's outcome is final), attempts and history.
import { Box, Button, Flex, Heading, HStack, Spinner, Text } from "@chakra-ui/react";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useMemo } from "react";
import { useSearchParams } from "react-router-dom";

import { type ApiError, CHANNEL_ROUTE } from "../api";
import { BusinessAppBadge } from "../BusinessAppBadge";
import { ErrorNote } from "../ErrorNote";
import { FleetStatusNote, useFleetSchedule } from "../FleetSchedule";
import { ManagerLink } from "../ManagerLink";
import { keyOf, REFRESH_MS, useGet, useVocabulary } from "../queries";
import { Attempts } from "./Attempts";
import { Banner } from "./Banner";
import { BusinessAppDetails } from "./BusinessAppDetails";
import { Details } from "./Details";
import { History } from "./History";
import { RefreshButton } from "./RefreshButton";
import { RegisterOutcomeNote } from "./RegisterOutcomeNote";
import { useRegistration } from "./useRegistration";

/** The newest register attempts and health checks the view lists. */
const ROWS = 20;

/**
 * A channel answered 404 is gone (offboarded, deleted): asking again every 10 s would only
 * repeat the 404, so the view stops refreshing (all its reads) and keeps saying so.
 */
const refreshOf = (healthError: ApiError | null): number | false => (healthError?.status === 404 ? false : REFRESH_MS);

export function ChannelView({ accountId, inboxId }: { accountId: string; inboxId: string }) {
  const [, setParams] = useSearchParams();
  const queryClient = useQueryClient();
  const ids = useMemo(() => ({ account_id: accountId, inbox_id: inboxId }), [accountId, inboxId]);
  const vocabulary = useVocabulary();
  const health = useGet(`${CHANNEL_ROUTE}/health`, { path: ids }, {
    refetchInterval: (query) => refreshOf(query.state.error),
  });
  const refetchInterval = refreshOf(health.error);
  const rows = { path: ids, query: { limit: ROWS } };
  const attempts = useGet(`${CHANNEL_ROUTE}/attempts`, rows, { refetchInterval });
  const history = useGet(`${CHANNEL_ROUTE}/history`, rows, { refetchInterval });
  const me = useGet("/api/v1/me", {});
  const schedule = useFleetSchedule();
  const reloadAll = useCallback(
    () => void queryClient.invalidateQueries({ queryKey: keyOf(CHANNEL_ROUTE, { path: ids }) }),
    [queryClient, ids],
  );
  const registration = useRegistration(ids, reloadAll);
  const back = () =>
    setParams((previous) => {
      const next = new URLSearchParams(previous);
      next.delete("channel");
      return next;
    });
  const channel = health.data;
  // The view appears whole (with the user's permissions applied), not piece by piece.
  if ([health, attempts, history, me, vocabulary].some((part) => part.isPending)) return <Spinner m={4} />;

  return (
    <Box data-testid="wa-channel" p={2}>
      <Button data-testid="wa-back" size="xs" variant="ghost" onClick={back} mb={2}>
        ← All channels
      </Button>
      {health.error && <ErrorNote error={health.error} />}
      {channel && (
        <>
          <Flex justify="space-between" align="start" wrap="wrap" gap={3}>
            <Box>
              <HStack gap={2} wrap="wrap">
                <Heading size="lg">{channel.display_phone_number ?? channel.phone_number_id}</Heading>
                {channel.business_app && <BusinessAppBadge app={channel.business_app} />}
              </HStack>
              <Text color="fg.muted">
                {channel.verified_name ?? "No display name yet"} · account {channel.account_id}, inbox{" "}
                {channel.inbox_id}
              </Text>
            </Box>
            <HStack gap={3}>
              <ManagerLink href={channel.links.whatsapp_manager} testId="wa-manager-link">
                WhatsApp Manager
              </ManagerLink>
              <RefreshButton ids={ids} permission={me.data?.permissions.refresh} onDone={reloadAll} />
            </HStack>
          </Flex>
          <FleetStatusNote schedule={schedule.data} />
          <Banner
            channel={channel}
            me={me.data}
            registration={registration}
            vocabulary={vocabulary.data}
            schedule={schedule.data}
          />
          <RegisterOutcomeNote registration={registration} situation={channel.situation} schedule={schedule.data} />
          {vocabulary.data && <Details channel={channel} vocabulary={vocabulary.data} />}
          {channel.business_app && vocabulary.data && (
            <BusinessAppDetails app={channel.business_app} vocabulary={vocabulary.data.business_app} />
          )}
        </>
      )}
      <Heading size="md" mt={6} mb={2}>
        Register attempts
      </Heading>
      {attempts.error && <ErrorNote error={attempts.error} />}
      {attempts.data && vocabulary.data && (
        <Attempts attempts={attempts.data.attempts} outcomes={vocabulary.data.attempt_outcomes} />
      )}
      <Heading size="md" mt={6} mb={2}>
        Health history
      </Heading>
      {history.error && <ErrorNote error={history.error} />}
      {history.data && vocabulary.data && <History history={history.data.history} vocabulary={vocabulary.data} />}
      {vocabulary.error && <ErrorNote error={vocabulary.error} />}
    </Box>
  );
}
