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

/**
 * The filter, sort and page the URL holds, as the fleet API's query parameters; what the URL
 * does not name is left to the API's defaults (page size, sort, order). A page after the first
 * needs the page size (the vocabulary's), so until it is known there is no query (null).
 */
export function fleetQuery(params: URLSearchParams, pageSize: number | undefined): FleetQuery | null {
  const page = pageOf(params);
  if (page > 1 && pageSize === undefined) return null;
  const needsAction = params.get("needs_action");
  return {
    q: params.get("q")?.trim() || undefined,
    situation: params.getAll("situation"),
    needs_action: needsAction === "true" || needsAction === "false" ? needsAction : undefined,
    sort: params.get("sort") ?? undefined,
    order: params.get("order") ?? undefined,
    offset: page > 1 && pageSize !== undefined ? (page - 1) * pageSize : undefined,
  };
}

export const channelKey = (channel: Pick<Schema<"ChannelHealth">, "account_id" | "inbox_id">): string =>
  `${channel.account_id}-${channel.inbox_id}`;
