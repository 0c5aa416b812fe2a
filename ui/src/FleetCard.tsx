// The fleet card on Airflow's home dashboard: how many channels need a person, and the way in.
import { Badge, Box, Flex, Heading, HStack, Spinner, Text } from "@chakra-ui/react";

import { AppLink } from "./AppLink";
import { ErrorNote } from "./ErrorNote";
import { TREND_REFRESH_MS } from "./fleet/Trend";
import { TrendChart } from "./fleet/TrendChart";
import { PAGE_PATH } from "./paths";
import { useGet } from "./queries";
import { Time } from "./Time";

/** Days of fleet audits the card's chart shows. */
const CARD_DAYS = 7;

export function FleetCard() {
  const summary = useGet("/api/v1/fleet/summary", {});
  const data = summary.data;
  // A week of audits, small: the trend at a glance, the page has the rest.
  const trend = useGet(
    "/api/v1/fleet/trend",
    { query: { days: CARD_DAYS, weeks: 1 } },
    { refetchInterval: TREND_REFRESH_MS },
  );
  const points = trend.data?.points ?? [];
  return (
    <Box data-testid="wa-card" borderWidth="1px" borderRadius="md" p={4} mb={2}>
      <Flex justify="space-between" align="baseline" gap={2}>
        <Heading size="md">WhatsApp fleet</Heading>
        <AppLink to={PAGE_PATH} testId="wa-card-link">
          Open WhatsApp Health
        </AppLink>
      </Flex>
      {summary.error && <ErrorNote error={summary.error} />}
      {summary.isPending && <Spinner size="sm" />}
      {data && (
        <HStack mt={2} gap={6} wrap="wrap">
          <Text data-testid="wa-card-total">
            <Text as="span" fontWeight="bold" fontSize="xl">
              {data.total}
            </Text>{" "}
            channels
          </Text>
          <AppLink to={`${PAGE_PATH}?needs_action=true`} testId="wa-card-needs-action">
            <Badge colorPalette={data.needs_action > 0 ? "red" : "green"} variant="surface" fontSize="md">
              {data.needs_action} need action
            </Badge>
          </AppLink>
          {data.last_audit?.created_at && (
            <Text fontSize="sm" color="fg.muted">
              Last audit <Time value={data.last_audit.created_at} />
            </Text>
          )}
        </HStack>
      )}
      {points.length > 1 && (
        <Box mt={2} data-testid="wa-card-trend">
          <Text fontSize="xs" color="fg.muted">
            Needs action (red) and healthy (green), last {CARD_DAYS} days
          </Text>
          <TrendChart points={points} height={56} compact />
        </Box>
      )}
    </Box>
  );
}
