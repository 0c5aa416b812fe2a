// The fleet view: channels that need action first, filtered, sorted and paged by the server;
// every filter lives in the URL so reload and sharing keep it.
import { Badge, Box, Button, Flex, Heading, HStack, Input, Spinner, Table, Text } from "@chakra-ui/react";
import { useEffect, useState } from "react";
import { useSearchParams } from "react-router-dom";

import { type Channel, type FleetPage, type SituationKindInfo, useApi, type Vocabulary } from "./api";
import { ErrorNote } from "./ErrorNote";
import { bySeverity, errorCode, PALETTE, situationOf, SituationBadge } from "./situation";
import { Time } from "./time";

export const PAGE_SIZE = 50;
const DEFAULT_SORT = "needs_action";

/** Sortable columns: the API's sort keys. */
const COLUMNS: { key: string; label: string }[] = [
  { key: "display_phone_number", label: "Phone number" },
  { key: "needs_action", label: "Problem" },
  { key: "next_attempt_at", label: "Next try" },
  { key: "checked_at", label: "Checked" },
  { key: "account", label: "Account / inbox" },
];

/** The filter, sort and page the URL holds, as the fleet API's query string. */
function fleetQuery(params: URLSearchParams, page: number): string {
  const query = new URLSearchParams();
  const q = params.get("q")?.trim();
  if (q) query.set("q", q);
  for (const kind of params.getAll("situation")) query.append("situation", kind);
  const needsAction = params.get("needs_action");
  if (needsAction === "true" || needsAction === "false") query.set("needs_action", needsAction);
  query.set("sort", params.get("sort") ?? DEFAULT_SORT);
  query.set("order", params.get("order") === "desc" ? "desc" : "asc");
  query.set("limit", String(PAGE_SIZE));
  query.set("offset", String((page - 1) * PAGE_SIZE));
  return query.toString();
}

const pageOf = (params: URLSearchParams): number => Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);

export const channelKey = (channel: Pick<Channel, "account_id" | "inbox_id">): string =>
  `${channel.account_id}-${channel.inbox_id}`;

export function Fleet() {
  const [params, setParams] = useSearchParams();
  const page = pageOf(params);
  const fleet = useApi<FleetPage>(`fleet?${fleetQuery(params, page)}`);

  /** Change some URL parameters (null removes one); any filter change goes back to page 1. */
  const update = (changes: Record<string, string | string[] | null>, keepPage = false) => {
    setParams((previous) => {
      const next = new URLSearchParams(previous);
      for (const [key, value] of Object.entries(changes)) {
        next.delete(key);
        for (const item of value === null ? [] : [value].flat()) next.append(key, item);
      }
      if (!keepPage) next.delete("page");
      return next;
    });
  };

  const data = fleet.data;
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;
  const filtered = params.has("q") || params.has("situation") || params.has("needs_action");

  return (
    <Box data-testid="wa-fleet" p={2}>
      <Flex justify="space-between" align="baseline" wrap="wrap" gap={2} mb={3}>
        <Heading size="lg">WhatsApp Health</Heading>
        {data?.last_audit?.created_at && (
          <Text color="fg.muted" fontSize="sm">
            Fleet last audited <Time value={data.last_audit.created_at} />
          </Text>
        )}
      </Flex>
      <Summary data={data} params={params} update={update} />
      <HStack my={3} gap={2}>
        <SearchBox value={params.get("q") ?? ""} onSearch={(q) => update({ q: q || null })} />
        {filtered && (
          <Button size="sm" variant="ghost" onClick={() => update({ q: null, situation: null, needs_action: null })}>
            Clear filters
          </Button>
        )}
        {fleet.loading && <Spinner size="sm" />}
      </HStack>
      {fleet.error && <ErrorNote error={fleet.error} />}
      {data && data.channels.length === 0 ? (
        <Box data-testid="wa-empty" p={6} borderWidth="1px" borderRadius="md" textAlign="center" color="fg.muted">
          {filtered ? "No channel matches these filters." : "No channel is onboarded yet."}
        </Box>
      ) : (
        data && <FleetTable channels={data.channels} params={params} update={update} />
      )}
      {data && data.total > 0 && (
        <HStack mt={3} gap={3}>
          <Button
            data-testid="wa-page-prev"
            size="sm"
            variant="outline"
            disabled={page <= 1}
            onClick={() => update({ page: page > 2 ? String(page - 1) : null }, true)}
          >
            Previous
          </Button>
          <Text fontSize="sm">
            Page {page} of {pages} · {data.total} channel{data.total === 1 ? "" : "s"}
          </Text>
          <Button
            data-testid="wa-page-next"
            size="sm"
            variant="outline"
            disabled={page >= pages}
            onClick={() => update({ page: String(page + 1) }, true)}
          >
            Next
          </Button>
        </HStack>
      )}
    </Box>
  );
}

type Update = (changes: Record<string, string | string[] | null>, keepPage?: boolean) => void;

/** Counts that filter: "needs action" and one badge per situation present in the fleet. A badge
 * replaces the badge filter (one at a time, like the counts it shows); clicking it again clears it. */
function Summary({ data, params, update }: { data?: FleetPage; params: URLSearchParams; update: Update }) {
  const vocabulary = useApi<Vocabulary>("vocabulary").data;
  const counts = data?.counts;
  if (!counts) return null;
  const known = new Map((vocabulary?.situations ?? []).map((info) => [info.kind, info]));
  const info = (kind: string): SituationKindInfo =>
    known.get(kind) ?? { kind, severity: "info", needs_action: false, title: kind.replaceAll("_", " ") };
  const kinds = Object.entries(counts.situation ?? {})
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => ({ ...info(kind), n }))
    .sort((a, b) => bySeverity(a.severity, b.severity) || a.title.localeCompare(b.title));
  const selected = params.getAll("situation");
  const only = (filter: Record<string, string | null>) => update({ needs_action: null, situation: null, ...filter });
  const needsActionOn = params.get("needs_action") === "true";
  return (
    <Flex wrap="wrap" gap={2}>
      {counts.needs_action !== undefined && (
        <Button
          data-testid="wa-summary-needs_action"
          size="xs"
          colorPalette="red"
          variant={needsActionOn ? "solid" : "outline"}
          aria-pressed={needsActionOn}
          onClick={() => only({ needs_action: needsActionOn ? null : "true" })}
        >
          Needs action <Badge variant="solid" colorPalette="red">{counts.needs_action}</Badge>
        </Button>
      )}
      {kinds.map(({ kind, severity, title, n }) => {
        const on = selected.length === 1 && selected[0] === kind;
        return (
          <Button
            key={kind}
            data-testid={`wa-summary-${kind}`}
            size="xs"
            colorPalette={PALETTE[severity]}
            variant={on ? "solid" : "outline"}
            aria-pressed={on}
            onClick={() => only({ situation: on ? null : kind })}
          >
            {title} <Badge variant="subtle">{n}</Badge>
          </Button>
        );
      })}
    </Flex>
  );
}

/** The search box: the URL changes once typing pauses, not on every key. */
function SearchBox({ value, onSearch }: { value: string; onSearch: (q: string) => void }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text.trim() === value.trim()) return;
    const timer = window.setTimeout(() => onSearch(text.trim()), 300);
    return () => window.clearTimeout(timer);
  }, [text, value, onSearch]);
  return (
    <Input
      data-testid="wa-search"
      size="sm"
      maxW="sm"
      type="search"
      placeholder="Search phone number, display name or account"
      value={text}
      onChange={(event) => setText(event.target.value)}
    />
  );
}

function FleetTable({ channels, params, update }: { channels: Channel[]; params: URLSearchParams; update: Update }) {
  const sort = params.get("sort") ?? DEFAULT_SORT;
  const order = params.get("order") === "desc" ? "desc" : "asc";
  const open = (channel: Channel) => update({ channel: channelKey(channel) }, true);
  const header = (key: string, label: string) => (
    <Table.ColumnHeader key={key}>
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
    </Table.ColumnHeader>
  );
  const [phone, problem, nextTry, checked, account] = COLUMNS.map((column) => header(column.key, column.label));
  return (
    <Table.ScrollArea borderWidth="1px" borderRadius="md">
      <Table.Root size="sm" interactive>
        <Table.Header>
          <Table.Row>
            {phone}
            <Table.ColumnHeader>Display name</Table.ColumnHeader>
            {problem}
            <Table.ColumnHeader>Since</Table.ColumnHeader>
            {nextTry}
            {checked}
            {account}
          </Table.Row>
        </Table.Header>
        <Table.Body>
          {channels.map((channel) => {
            const situation = situationOf(channel);
            return (
              <Table.Row
                key={channelKey(channel)}
                data-testid="wa-fleet-row"
                data-channel={channelKey(channel)}
                data-kind={situation.kind}
                cursor="pointer"
                onClick={() => open(channel)}
              >
                <Table.Cell>
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
                </Table.Cell>
                <Table.Cell maxW="16rem" truncate title={channel.verified_name ?? undefined}>
                  {channel.verified_name ?? "–"}
                </Table.Cell>
                <Table.Cell data-testid="wa-problem" maxW="24rem">
                  <SituationBadge situation={situation} />
                  {situation.error?.message && (
                    <Text fontSize="xs" color="fg.muted" lineClamp={2}>
                      Meta: {situation.error.message} ({errorCode(situation.error)})
                    </Text>
                  )}
                </Table.Cell>
                <Table.Cell data-testid="wa-since">
                  <Time value={situation.since} />
                </Table.Cell>
                <Table.Cell data-testid="wa-next-try">
                  <Time value={situation.next_try} />
                </Table.Cell>
                <Table.Cell>
                  <Time value={channel.checked_at} />
                </Table.Cell>
                <Table.Cell>
                  {channel.account_id} / {channel.inbox_id}
                </Table.Cell>
              </Table.Row>
            );
          })}
        </Table.Body>
      </Table.Root>
    </Table.ScrollArea>
  );
}
