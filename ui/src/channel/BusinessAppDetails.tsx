import { Box, DataList, Heading, Progress, Stack } from "@chakra-ui/react";
import type { ReactNode } from "react";

import type { Schema } from "../api";
import { Time } from "../Time";
import { ValueBadge } from "../ValueBadge";
import { SyncBadge } from "./SyncBadge";

type App = Schema<"BusinessApp">;
type Item = { label: string; value: ReactNode; testId: string };

/**
 * A WhatsApp Business app number's link to the app and its two one-time syncs, each in the API's
 * words; the deadline while a sync may still be requested (Meta allows each once, within 24 hours
 * of the onboarding, while the number is linked), and how many messages the customer sent from
 * the app.
 */
export function BusinessAppDetails({ app, vocabulary }: { app: App; vocabulary: Schema<"BusinessAppInfo"> }) {
  const syncs = Object.entries(app.syncs);
  const items: Item[] = [
    {
      label: "Link to the app",
      value: <ValueBadge value={app.link} severities={vocabulary.link} />,
      testId: "wa-app-link",
    },
    ...syncs.map(([key, sync]) => ({
      label: sync.label,
      value: (
        <Stack gap={1}>
          <SyncBadge sync={sync} states={vocabulary.sync_states} />
          {sync.progress !== null && (
            <Progress.Root
              value={sync.progress}
              size="xs"
              maxW="10rem"
              aria-label={`${sync.label}: ${sync.progress} %`}
              data-testid="wa-sync-progress"
            >
              <Progress.Track>
                <Progress.Range />
              </Progress.Track>
            </Progress.Root>
          )}
        </Stack>
      ),
      testId: `wa-sync-${key}`,
    })),
  ];
  // The API serves the deadline always; it matters while a sync is still due and may be sent,
  // which needs the number linked to the app (the store refuses a request otherwise).
  if (app.sync_deadline && app.link === "connected" && syncs.some(([, sync]) => sync.state === "due")) {
    items.push({
      label: "Syncs can be requested until",
      value: <Time value={app.sync_deadline} />,
      testId: "wa-sync-deadline",
    });
  }
  items.push({ label: "Messages sent from the app", value: String(app.message_echoes), testId: "wa-echoes" });
  return (
    <Box data-testid="wa-business-app" borderWidth="1px" borderRadius="md" p={3} mt={4}>
      <Heading size="sm" mb={2}>
        {app.label}
      </Heading>
      <DataList.Root
        orientation="horizontal"
        size="sm"
        display="grid"
        gridTemplateColumns="repeat(auto-fill, minmax(18rem, 1fr))"
      >
        {items.map(({ label, value, testId }) => (
          <DataList.Item key={testId} data-testid={testId}>
            <DataList.ItemLabel>{label}</DataList.ItemLabel>
            <DataList.ItemValue>{value}</DataList.ItemValue>
          </DataList.Item>
        ))}
      </DataList.Root>
    </Box>
  );
}
