// The fleet over time, under the fleet view's heading when opened: needs action and healthy at
// each saved fleet summary (14 days), and signup-to-registered by week (8 weeks).
import { Box, Flex, Spinner, Text } from "@chakra-ui/react";

import { ErrorNote } from "../ErrorNote";
import { useGet } from "../queries";
import { SignupWeeks } from "./SignupWeeks";
import { TrendChart } from "./TrendChart";

/** Summaries arrive once per fleet run (hourly): reading them again each minute is plenty. */
export const TREND_REFRESH_MS = 60_000;

export function Trend() {
  const trend = useGet("/api/v1/fleet/trend", {}, { refetchInterval: TREND_REFRESH_MS });
  const data = trend.data;
  return (
    <Box data-testid="wa-trend" borderWidth="1px" borderRadius="md" p={3} my={3}>
      {trend.error && <ErrorNote error={trend.error} />}
      {trend.isPending && <Spinner size="sm" />}
      {data && (
        <Flex gap={6} wrap="wrap" align="flex-start">
          <Box flex="1 1 28rem" minW="18rem">
            <Text fontSize="sm" color="fg.muted" mb={1}>
              Channels at each fleet audit, last 14 days
            </Text>
            {data.points.length > 0 ? (
              <TrendChart points={data.points} height={220} />
            ) : (
              <Text data-testid="wa-trend-empty" fontSize="sm">
                No fleet audit saved in the last 14 days.
              </Text>
            )}
          </Box>
          <SignupWeeks weeks={data.weeks} />
        </Flex>
      )}
    </Box>
  );
}
