// The fleet view's state lives in the URL (reload and sharing keep it); these read it.
import type { GetArgs, Schema } from "../api";
import { PAGE_PATH } from "../paths";

type FleetQuery = NonNullable<GetArgs<"/api/v1/fleet">["query"]>;
type FleetPaging = Schema<"FleetPaging">;
type Vocabulary = Schema<"Vocabulary">;

/** Change some URL parameters (null removes one); any filter change goes back to page 1. */
export type Update = (changes: Record<string, string | string[] | null>, keepPage?: boolean) => void;

const ORDERS: readonly string[] = ["asc", "desc"] satisfies FleetPaging["order"][];
const BOOLEANS: readonly string[] = ["true", "false"];

const isKind = (vocabulary: Vocabulary, kind: string): boolean =>
  vocabulary.situations.some((known) => known.kind === kind);

/** The sort the URL names when the API takes it, else the API's default (the vocabulary's `fleet`). */
export const sortOf = (params: URLSearchParams, paging: FleetPaging): Schema<"FleetSort"> => {
  const sort = params.get("sort");
  return paging.sorts.find((known) => known === sort) ?? paging.sort;
};

export const orderOf = (params: URLSearchParams, paging: FleetPaging): FleetPaging["order"] => {
  const order = params.get("order");
  return order === "asc" || order === "desc" ? order : paging.order;
};

const PAGE = /^[1-9]\d{0,5}$/;

export const pageOf = (params: URLSearchParams): number => {
  const page = params.get("page") ?? "1";
  return PAGE.test(page) ? Number(page) : 1;
};

/** The search as the API takes it: trimmed, at most its longest search. */
export const searchOf = (params: URLSearchParams, paging: FleetPaging): string =>
  (params.get("q") ?? "").trim().slice(0, paging.search_max_length);

/**
 * The URL's `name=value` pairs the page does not understand (a shared link typed by hand, or from
 * another version): they are not sent to the API (which would refuse the request) but named on
 * the page, with the way back.
 */
export function ignoredOf(params: URLSearchParams, vocabulary: Vocabulary): [string, string][] {
  const known = (name: string, accepts: (value: string) => boolean): [string, string][] =>
    params
      .getAll(name)
      .filter((value) => !accepts(value))
      .map((value) => [name, value]);
  const paging = vocabulary.fleet;
  return [
    ...known("situation", (kind) => isKind(vocabulary, kind)),
    ...known("sort", (sort) => paging.sorts.some((value) => value === sort)),
    ...known("order", (order) => ORDERS.includes(order)),
    ...known("needs_action", (value) => BOOLEANS.includes(value)),
    ...known("page", (page) => PAGE.test(page)),
  ];
}

/**
 * The filter, sort and page the URL holds, as the fleet API's query parameters, leaving out what
 * the API would refuse (see {@link ignoredOf}); what the URL does not name is left to the API's
 * defaults. Until the vocabulary (page size, sorts, situations) is known there is no query (null).
 */
export function fleetQuery(params: URLSearchParams, vocabulary: Vocabulary | undefined): FleetQuery | null {
  if (vocabulary === undefined) return null;
  const paging = vocabulary.fleet;
  const page = pageOf(params);
  const needsAction = params.get("needs_action");
  const named = (name: string, value: string): string | undefined => (params.get(name) === value ? value : undefined);
  return {
    q: searchOf(params, paging) || undefined,
    situation: params.getAll("situation").filter((kind) => isKind(vocabulary, kind)),
    needs_action: needsAction === "true" || needsAction === "false" ? needsAction : undefined,
    sort: named("sort", sortOf(params, paging)),
    order: named("order", orderOf(params, paging)),
    offset: page > 1 ? (page - 1) * paging.page_size : undefined,
  };
}

export const channelKey = (channel: Pick<Schema<"ChannelHealth">, "account_id" | "inbox_id">): string =>
  `${channel.account_id}-${channel.inbox_id}`;

/** The channel's view, keeping the fleet's filter, sort and page for *All channels* and Back. */
export function channelPath(params: URLSearchParams, channel: Schema<"ChannelHealth">): string {
  const next = new URLSearchParams(params);
  next.set("channel", channelKey(channel));
  return `${PAGE_PATH}?${next.toString()}`;
}

type ActionFilter = Partial<NonNullable<Schema<"FleetActionRequest">["filter"]>>;

/**
 * The filter part of the fleet's query (what "all that match" means), as a bulk action's body
 * takes it: the query without its sort and page, and with its yes/no words as booleans.
 */
export function filterOf(query: FleetQuery): ActionFilter {
  const { sort: _sort, order: _order, offset: _offset, limit: _limit, ...filter } = query;
  const entries = Object.entries(filter)
    .filter(([, value]) => value !== undefined && !(Array.isArray(value) && value.length === 0))
    .map(([name, value]) => [name, value === "true" ? true : value === "false" ? false : value]);
  return Object.fromEntries(entries) as ActionFilter;
}
