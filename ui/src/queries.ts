// Fetching with TanStack Query, as Airflow's own UI does: one cache for the page's three apps
// (nav page, dashboard card, run tab), keyed by the API path asked for, so a view opened again
// shows what it had while it asks again. The bundle has its own copy of the library (Airflow
// shares React, the router and Chakra with plugins, not its query client).
import { QueryClient, queryOptions, skipToken, useQuery, type UseQueryOptions } from "@tanstack/react-query";

import { type ApiError, get, type GetAnswer, type GetArgs, type Route, routePath } from "./api";

declare module "@tanstack/react-query" {
  interface Register {
    defaultError: ApiError;
  }
}

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A refusal is an answer (a 404 is a channel that is gone): shown at once, never retried.
      retry: false,
      // Views refresh on their own schedule (the channel view's loop), not on every focus.
      refetchOnWindowFocus: false,
    },
  },
});

/**
 * How often an open view reads what it shows again while the tab is visible (TanStack Query skips
 * the interval while the document is hidden): Meta's review verdicts, quality changes and the
 * fleet's audits land in the store at any time (webhooks within a second), and a person watching
 * the fleet or a number should see them without reloading the page.
 */
export const REFRESH_MS = 10_000;

/** A call's cache key: the segments of the path it asks for, so a channel's prefixes all of its. */
export const keyOf = (route: string, args: { path?: object; query?: object }): string[] =>
  routePath(route, args).split("/");

/** The query of GET `route`. */
const getQuery = <P extends Route<"get">>(route: P, args: GetArgs<P>) =>
  queryOptions({ queryKey: keyOf(route, args), queryFn: ({ signal }) => get(route, args, signal) });

type Options<T> = Omit<UseQueryOptions<T, ApiError, T, string[]>, "queryKey" | "queryFn">;

/** GET `route` (again whenever its arguments change); `null` arguments fetch nothing yet. */
export function useGet<P extends Route<"get">>(route: P, args: GetArgs<P> | null, options: Options<GetAnswer<P>> = {}) {
  return useQuery({
    queryKey: keyOf(route, args ?? {}),
    queryFn: args === null ? skipToken : ({ signal }) => get(route, args, signal),
    ...options,
  });
}

/** Labels, severities and defaults of everything the page shows: fixed while the server runs. */
export const vocabularyQuery = queryOptions({ ...getQuery("/api/v1/vocabulary", {}), staleTime: Infinity });

export const useVocabulary = () => useQuery(vocabularyQuery);
