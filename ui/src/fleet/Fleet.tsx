// The fleet view: channels that need action first, filtered, sorted and paged by the server;
// every filter lives in the URL so reload and sharing keep it.
import { Alert, Box, Button, Flex, Heading, HStack, Spinner, Text } from "@chakra-ui/react";
import { keepPreviousData } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useSearchParams } from "react-router-dom";

import { ErrorNote } from "../ErrorNote";
import { FleetStatusNote, useFleetSchedule } from "../FleetSchedule";
import { REFRESH_MS, useGet, useVocabulary } from "../queries";
import { Time } from "../Time";
import { ActionBar } from "./ActionBar";
import { FleetTable } from "./FleetTable";
import { ExportLink } from "./ExportLink";
import { OffboardedToggle } from "./OffboardedToggle";
import { OwnerFilters } from "./OwnerFilters";
import { PageSizeSelect } from "./PageSizeSelect";
import { channelKey, filterOf, fleetQuery, ignoredOf, OWNERS, pageOf, pageSizeOf, searchOf, type Update } from "./params";
import { SearchBox } from "./SearchBox";
import { selectColumn } from "./selectColumn";
import { Summary } from "./Summary";
import { Trend } from "./Trend";
import { useFleetAction } from "./useFleetAction";
import { useSelection } from "./useSelection";

/** The URL parameters that filter (Clear filters removes them, and whatever the page ignored). */
const FILTERS = ["q", "situation", "needs_action", "include_inactive", ...OWNERS] as const;

export function Fleet() {
  const [params, setParams] = useSearchParams();
  // The trend is closed at first, so the table starts near the top of a small screen.
  const [trendOpen, setTrendOpen] = useState(false);
  const vocabulary = useVocabulary();
  const paging = vocabulary.data?.fleet;
  const page = pageOf(params);
  // What the API takes is checked against its vocabulary (situations, sorts, page size) first.
  const query = fleetQuery(params, vocabulary.data);
  const fleet = useGet("/api/v1/fleet", query && { query }, {
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS,
  });
  // Rows ticked for a bulk action, kept while the filter stays; the action's run and outcomes.
  const filter = query && filterOf(query);
  const selection = useSelection(JSON.stringify(filter));
  const action = useFleetAction();
  const me = useGet("/api/v1/me", {});
  const schedule = useFleetSchedule();

  const update: Update = (changes, keepPage = false) => {
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
  const pages = data && paging ? Math.max(1, Math.ceil(data.total / pageSizeOf(params, paging))) : 1;
  // A page past the last (a shared link, a fleet that shrank) shows the last page instead.
  const pastTheEnd = data !== undefined && !fleet.isPlaceholderData && data.total > 0 && page > pages;
  useEffect(() => {
    if (!pastTheEnd) return;
    setParams(
      (previous) => {
        const next = new URLSearchParams(previous);
        if (pages > 1) next.set("page", String(pages));
        else next.delete("page");
        return next;
      },
      { replace: true },
    );
  }, [pastTheEnd, pages, setParams]);

  const ignored = vocabulary.data ? ignoredOf(params, vocabulary.data) : [];
  const filtered = FILTERS.some((name) => params.has(name));
  const clear = () =>
    update(Object.fromEntries([...FILTERS, ...ignored.map(([name]) => name)].map((name) => [name, null])));
  const error = vocabulary.error ?? fleet.error;

  return (
    <Box data-testid="wa-fleet" p={2}>
      <Flex justify="space-between" align="baseline" wrap="wrap" gap={2} mb={2}>
        <Heading size="lg">WhatsApp Health</Heading>
        <HStack gap={3}>
          {data?.last_audit?.created_at && (
            <Text color="fg.muted" fontSize="sm">
              Fleet last audited <Time value={data.last_audit.created_at} />
            </Text>
          )}
          {vocabulary.data && <ExportLink params={params} vocabulary={vocabulary.data} />}
          <Button
            data-testid="wa-trend-toggle"
            size="xs"
            variant="outline"
            aria-expanded={trendOpen}
            onClick={() => setTrendOpen((open) => !open)}
          >
            {trendOpen ? "Hide trend" : "Trend"}
          </Button>
        </HStack>
      </Flex>
      {trendOpen && <Trend />}
      <FleetStatusNote schedule={schedule.data} />
      {/* One row each for the counts and the filters: at 1024x768 the table starts near the top. */}
      <Flex wrap="wrap" gap={2} align="center">
        {data && vocabulary.data && (
          <Summary counts={data.counts} vocabulary={vocabulary.data} params={params} update={update} />
        )}
        {data && <OffboardedToggle count={data.counts.offboarded} params={params} update={update} />}
      </Flex>
      {ignored.length > 0 && (
        <Alert.Root status="warning" my={3} data-testid="wa-ignored">
          <Alert.Indicator />
          <Alert.Description>
            This link names what the page does not know, so it shows the fleet without it:{" "}
            {ignored.map(([name, value]) => `${name}=${value}`).join(", ")}.
          </Alert.Description>
        </Alert.Root>
      )}
      <Flex my={2} gap={2} wrap="wrap" align="center">
        {paging && (
          <SearchBox
            value={searchOf(params, paging)}
            maxLength={paging.search_max_length}
            onSearch={(q) => update({ q: q || null })}
          />
        )}
        {(filtered || ignored.length > 0) && (
          <Button data-testid="wa-clear-filters" size="sm" variant="ghost" onClick={clear}>
            Clear filters
          </Button>
        )}
        <OwnerFilters params={params} update={update} />
        {(fleet.isFetching || vocabulary.isPending) && !error && <Spinner size="sm" />}
      </Flex>
      {error && <ErrorNote error={error} />}
      {data && filter && (
        <ActionBar
          selection={selection}
          pageKeys={data.channels.map(channelKey)}
          total={data.total}
          filter={filter}
          permission={me.data?.permissions.fleet_action}
          action={action}
        />
      )}
      {data && data.total === 0 ? (
        <Box data-testid="wa-empty" p={6} borderWidth="1px" borderRadius="md" textAlign="center" color="fg.muted">
          {filtered ? "No channel matches these filters." : "No channel is onboarded yet."}
        </Box>
      ) : (
        data &&
        vocabulary.data &&
        !pastTheEnd && (
          <FleetTable
            channels={data.channels}
            vocabulary={vocabulary.data}
            params={params}
            update={update}
            lead={selectColumn(selection, data.channels)}
            schedule={schedule.data}
          />
        )
      )}
      {data && paging && data.total > 0 && !pastTheEnd && (
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
          <PageSizeSelect paging={paging} params={params} update={update} />
        </HStack>
      )}
    </Box>
  );
}
