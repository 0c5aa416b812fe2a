import { Button, HStack, Table, Text } from "@chakra-ui/react";
import type { ReactNode } from "react";

import type { Schema } from "../api";
import { BusinessAppBadge } from "../BusinessAppBadge";
import { errorCode } from "../situation";
import { SituationBadge } from "../SituationBadge";
import { NextTry, Time } from "../Time";
import { channelKey, orderOf, sortOf, type Update } from "./params";

type Channel = Schema<"ChannelHealth">;

/** The columns in order: a header (by the API's sort key when the API sorts by it) and a cell. */
type Column = { label: string; sort?: Schema<"FleetSort">; cell: (channel: Channel) => ReactNode; testId?: string };

/** The health fields' labels are the API's (its vocabulary), like every other view's. */
function columns(vocabulary: Schema<"Vocabulary">, open: (channel: Channel) => void): Column[] {
  const label = (name: string): string => vocabulary.health_fields.find((field) => field.name === name)?.label ?? name;
  return [
    {
      label: label("display_phone_number"),
      sort: "display_phone_number",
      cell: (channel) => (
        <HStack gap={2} wrap="wrap">
          <Button
            variant="plain"
            size="xs"
            px={0}
            color="fg.info"
            onClick={(event) => {
              event.stopPropagation();
              open(channel);
            }}
          >
            {channel.display_phone_number ?? channel.phone_number_id}
          </Button>
          {channel.business_app && <BusinessAppBadge app={channel.business_app} size="xs" />}
        </HStack>
      ),
    },
    {
      label: label("verified_name"),
      cell: (channel) => (
        <Text maxW="16rem" truncate title={channel.verified_name ?? undefined}>
          {channel.verified_name ?? "–"}
        </Text>
      ),
    },
    {
      label: "Problem",
      sort: "needs_action",
      testId: "wa-problem",
      cell: ({ situation }) => (
        <>
          <SituationBadge situation={situation} />
          {situation.error?.message && (
            <Text fontSize="xs" color="fg.muted" lineClamp={2}>
              Meta: {situation.error.message} ({errorCode(situation.error)})
            </Text>
          )}
        </>
      ),
    },
    { label: "Since", testId: "wa-since", cell: ({ situation }) => <Time value={situation.since} /> },
    {
      label: "Next try",
      sort: "next_attempt_at",
      testId: "wa-next-try",
      cell: ({ situation }) => <NextTry value={situation.next_try} />,
    },
    { label: "Checked", sort: "checked_at", cell: (channel) => <Time value={channel.checked_at} /> },
    {
      label: "Account / inbox",
      sort: "account",
      cell: (channel) => `${channel.account_id} / ${channel.inbox_id}`,
    },
  ];
}

export function FleetTable({
  channels,
  vocabulary,
  params,
  update,
}: {
  channels: Channel[];
  vocabulary: Schema<"Vocabulary">;
  params: URLSearchParams;
  update: Update;
}) {
  const sort = sortOf(params, vocabulary.fleet);
  const order = orderOf(params, vocabulary.fleet);
  const open = (channel: Channel) => update({ channel: channelKey(channel) }, true);
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
  const shown = columns(vocabulary, open);
  return (
    <Table.ScrollArea borderWidth="1px" borderRadius="md">
      <Table.Root size="sm" interactive>
        <Table.Header>
          <Table.Row>
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
              onClick={() => open(channel)}
            >
              {shown.map((column) => (
                <Table.Cell key={column.label} data-testid={column.testId} maxW="24rem">
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
