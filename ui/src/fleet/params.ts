// The fleet view's state lives in the URL (reload and sharing keep it); these read it.
import type { GetArgs, Schema } from "../api";

type FleetQuery = NonNullable<GetArgs<"/api/v1/fleet">["query"]>;
type FleetPaging = Schema<"FleetPaging">;

/** Change some URL parameters (null removes one); any filter change goes back to page 1. */
export type Update = (changes: Record<string, string | string[] | null>, keepPage?: boolean) => void;

/** The sort the URL names, else the API's default (the vocabulary's `fleet`). */
export const sortOf = (params: URLSearchParams, paging: FleetPaging): string => params.get("sort") ?? paging.sort;

export const orderOf = (params: URLSearchParams, paging: FleetPaging): FleetPaging["order"] => {
  const order = params.get("order");
  return order === "asc" || order === "desc" ? order : paging.order;
};

export const pageOf = (params: URLSearchParams): number =>
  Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);

/** The filter, sort and page the URL holds, as the fleet API's query parameters, one page of the API's size. */
export function fleetQuery(params: URLSearchParams, paging: FleetPaging): FleetQuery {
  const needsAction = params.get("needs_action");
  return {
    q: params.get("q")?.trim() || undefined,
    situation: params.getAll("situation"),
    needs_action: needsAction === "true" || needsAction === "false" ? needsAction : undefined,
    sort: sortOf(params, paging),
    order: orderOf(params, paging),
    limit: paging.page_size,
    offset: (pageOf(params) - 1) * paging.page_size,
  };
}

export const channelKey = (channel: Pick<Schema<"ChannelHealth">, "account_id" | "inbox_id">): string =>
  `${channel.account_id}-${channel.inbox_id}`;
