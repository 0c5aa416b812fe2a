import { Button, HStack, Table, Text } from "@chakra-ui/react";
import type { MouseEvent, ReactNode } from "react";

import type { Schema } from "../api";
import { AppLink } from "../AppLink";
import { BusinessAppBadge } from "../BusinessAppBadge";
import { FleetNextTry, type Schedule } from "../FleetSchedule";
import { errorCode } from "../situation";
import { SituationBadge } from "../SituationBadge";
import { Time } from "../Time";
import { ValueBadge } from "../ValueBadge";
import { channelKey, channelPath, orderOf, sortOf, type Update } from "./params";

type Channel = Schema<"ChannelHealth">;

/** The columns in order: a header (by the API's sort key when the API sorts by it) and a cell. */
type Column = {
  label: string;
  sort?: Schema<"FleetSort">;
  cell: (channel: Channel) => ReactNode;
  testId?: string;
  /** The Problem column takes the room the table has; dates stay on one compact line. */
  width?: { minW?: string; maxW?: string; whiteSpace?: "nowrap" };
};

const DATE = { whiteSpace: "nowrap" } as const;

/**
 * The health fields' labels are the API's (its vocabulary), like every other view's. The number
 * is a link to the channel's view (open in a new tab, copy link), keeping the fleet's filter.
 */
function columns(vocabulary: Schema<"Vocabulary">, params: URLSearchParams, schedule: Schedule | undefined): Column[] {
  const field = (name: string) => vocabulary.health_fields.find((known) => known.name === name);
  const label = (name: string): string => field(name)?.label ?? name;
  return [
    {
      label: label("display_phone_number"),
      sort: "display_phone_number",
      cell: (channel) => (
        <HStack gap={2} wrap="wrap">
          <AppLink to={channelPath(params, channel)} testId="wa-channel-link">
            {channel.display_phone_number ?? channel.phone_number_id}
          </AppLink>
          {channel.business_app && <BusinessAppBadge app={channel.business_app} size="xs" />}
        </HStack>
      ),
    },
    {
      label: label("verified_name"),
      cell: (channel) => (
        <Text maxW="12rem" truncate title={channel.verified_name ?? undefined}>
          {channel.verified_name ?? "–"}
        </Text>
      ),
    },
    {
      label: "Problem",
      sort: "needs_action",
      testId: "wa-problem",
      width: { minW: "18rem", maxW: "32rem" },
      cell: ({ situation }) => (
        <>
          <SituationBadge situation={situation} />
          {situation.error?.message && (
            <Text fontSize="xs" color="fg.muted" lineClamp={3} title={situation.error.message}>
              Meta: {situation.error.message} ({errorCode(situation.error)})
            </Text>
          )}
        </>
      ),
    },
    {
      label: label("quality_rating"),
      testId: "wa-quality",
      cell: (channel) => <ValueBadge value={channel.quality_rating} severities={field("quality_rating")?.severities} />,
    },
    {
      label: "Since",
      testId: "wa-since",
      width: DATE,
      cell: ({ situation }) => <Time value={situation.since} compact />,
    },
    {
      label: "Next try",
      sort: "next_attempt_at",
      testId: "wa-next-try",
      width: DATE,
      cell: ({ situation }) => <FleetNextTry value={situation.next_try} schedule={schedule} />,
    },
    {
      label: "Checked",
      sort: "checked_at",
      width: DATE,
      cell: (channel) => <Time value={channel.checked_at} compact />,
    },
    {
      label: "Account / inbox",
      sort: "account",
      cell: (channel) => `${channel.account_id} / ${channel.inbox_id}`,
    },
  ];
}

/** An extra first column (the selection's tick boxes), which the table only places. */
export type LeadColumn = { header: ReactNode; cell: (channel: Channel) => ReactNode };

export function FleetTable({
  channels,
  vocabulary,
  schedule,
  params,
  update,
  lead,
}: {
  channels: Channel[];
  vocabulary: Schema<"Vocabulary">;
  schedule?: Schedule;
  params: URLSearchParams;
  update: Update;
  lead?: LeadColumn;
}) {
  const sort = sortOf(params, vocabulary.fleet);
  const order = orderOf(params, vocabulary.fleet);
  // A click elsewhere on the row opens the channel too; the number's link navigates by itself
  // (and a ctrl- or middle-click on it opens a tab, leaving this one where it is).
  const open = (channel: Channel, event: MouseEvent) => {
    if (!(event.target as Element).closest("a")) update({ channel: channelKey(channel) }, true);
  };
  const header = (key: Schema<"FleetSort">, label: string) => (
    <Button
      data-testid={`wa-sort-${key}`}
      variant="plain"
      size="sm"
      px={0}
      h="auto"
      fontWeight="inherit"
      color="inherit"
      aria-sort={sort === key ? (order === "asc" ? "ascending" : "descending") : undefined}
      onClick={() => update({ sort: key, order: sort === key && order === "asc" ? "desc" : null })}
    >
      {label}
      {sort === key ? (order === "asc" ? " ▲" : " ▼") : ""}
    </Button>
  );
  const shown = columns(vocabulary, params, schedule);
  return (
    <Table.ScrollArea borderWidth="1px" borderRadius="md">
      <Table.Root size="sm" interactive>
        <Table.Header>
          <Table.Row>
            {lead && <Table.ColumnHeader w="2rem">{lead.header}</Table.ColumnHeader>}
            {shown.map((column) => (
              <Table.ColumnHeader key={column.label}>
                {column.sort ? header(column.sort, column.label) : column.label}
              </Table.ColumnHeader>
            ))}
          </Table.Row>
        </Table.Header>
        <Table.Body>
          {channels.map((channel) => (
            <Table.Row
              key={channelKey(channel)}
              data-testid="wa-fleet-row"
              data-channel={channelKey(channel)}
              data-kind={channel.situation.kind}
              cursor="pointer"
              onClick={(event) => open(channel, event)}
            >
              {lead && <Table.Cell>{lead.cell(channel)}</Table.Cell>}
              {shown.map((column) => (
                <Table.Cell key={column.label} data-testid={column.testId} maxW="24rem" {...column.width}>
                  {column.cell(channel)}
                </Table.Cell>
              ))}
            </Table.Row>
          ))}
        </Table.Body>
      </Table.Root>
    </Table.ScrollArea>
  );
}
