import { Box, DataList, Text } from "@chakra-ui/react";
import type { ReactNode } from "react";

import type { Schema } from "../api";
import { Time, WithTimes } from "../Time";
import { ValueBadge } from "../ValueBadge";

type Channel = Schema<"ChannelHealth">;

/** The value at a health field's `api_path` in the channel's JSON (e.g. `throughput.level`). */
function valueAt(channel: Channel, path: string[]): string | null {
  let value: unknown = channel;
  for (const key of path) value = value !== null && typeof value === "object" ? Reflect.get(value, key) : undefined;
  return typeof value === "string" ? value : null;
}

/**
 * The API's notes that the banner does not say already: a lapsed or declined name change is the
 * banner's own situation, whose detail is the note's advice (the page said it twice).
 */
const notesBesideTheBanner = (channel: Channel): string[] =>
  (channel.notes ?? []).filter(
    (note) => !(note === channel.name_change?.text && channel.situation.action.kind === "change_display_name"),
  );

/** Every health field the API serves (its labels and colours), then the channel's own facts. */
export function Details({ channel, vocabulary }: { channel: Channel; vocabulary: Schema<"Vocabulary"> }) {
  const { registration } = channel;
  // The times the notes quote, shown in Airflow's zone like the banner's.
  const noted = [channel.offboarded_at, channel.name_change?.deadline, channel.business_app?.sync_deadline];
  const budget = vocabulary.register_budget;
  const items: [string, ReactNode][] = [
    ...vocabulary.health_fields.map((field): [string, ReactNode] => [
      field.label,
      <ValueBadge value={valueAt(channel, field.api_path)} severities={field.severities} />,
    ]),
    ["Provisioning", <ValueBadge value={channel.provisioning} severities={vocabulary.provisioning} />],
    ["Registration", <ValueBadge value={registration.state} severities={vocabulary.registration_state} />],
    [`Register calls (last ${budget.window_hours} h)`, `${registration.attempts_72h} of ${budget.calls}`],
    ["Phone number ID", channel.phone_number_id],
    ["WABA", channel.waba_id],
    ["Last checked", <Time value={channel.checked_at} />],
  ];
  return (
    <Box>
      <DataList.Root
        orientation="horizontal"
        size="sm"
        display="grid"
        gridTemplateColumns="repeat(auto-fill, minmax(18rem, 1fr))"
      >
        {items.map(([label, value]) => (
          <DataList.Item key={label}>
            <DataList.ItemLabel>{label}</DataList.ItemLabel>
            <DataList.ItemValue>{value}</DataList.ItemValue>
          </DataList.Item>
        ))}
      </DataList.Root>
      {notesBesideTheBanner(channel).map((note) => (
        <Text key={note} fontSize="sm" mt={1} data-testid="wa-note">
          <WithTimes text={note} times={noted} />
        </Text>
      ))}
    </Box>
  );
}
