// The plugin's health API, called like Airflow's UI calls its own API: same origin, so the
// browser sends Airflow's httponly `_token` cookie; the page keeps no token.
// Every route, parameter and response type comes from the API's OpenAPI schema
// (ui/openapi-gen/api.ts, `npm run generate`): a call the API does not answer does not compile.
import type { components, paths } from "../openapi-gen/api";

/** A schema of the plugin's OpenAPI document, by name (e.g. `Schema<"ChannelHealth">`). */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];

type Method = "get" | "post";

/** The routes that answer `method`: the schema's paths, relative to the app's mount (`/whatsapp`). */
export type Route<M extends Method> = {
  [P in keyof paths]: paths[P] extends Record<M, object> ? P : never;
}[keyof paths];

type Operation<M extends Method, P extends Route<M>> = paths[P][M];

type Parameters<Op> = Op extends { parameters: infer A } ? A : never;

/**
 * A call's path and query parameters by the API's names; values as a URL carries them (the
 * page's own URL holds filters as strings, and the API validates every value it is sent).
 */
type Args<Op> = (Parameters<Op> extends { path: infer A }
  ? { path: { [Name in keyof A]: A[Name] | string } }
  : { path?: undefined }) & {
  query?: Parameters<Op> extends { query?: infer Q } ? { [Name in keyof Q]?: Q[Name] | string | string[] } : never;
};

type Json<Response> = Response extends { content: { "application/json": infer Body } } ? Body : never;

/** What a call answers when it succeeds (its 200 or 202 body). */
type Answer<Op> = Op extends { responses: infer R } ? Json<R[Extract<keyof R, 200 | 202>]> : never;

export type GetArgs<P extends Route<"get">> = Args<Operation<"get", P>>;
export type GetAnswer<P extends Route<"get">> = Answer<Operation<"get", P>>;

/** A refused call: the HTTP status and the API's `detail` (or Meta's error) in words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `route` with its path parameters filled in and its query appended (the cache key's source too). */
export function routePath(route: string, { path, query }: { path?: object; query?: object }): string {
  const filled = route.replace(/\{(\w+)\}/g, (_, name: string) =>
    encodeURIComponent(String(path ? Reflect.get(path, name) : "")),
  );
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    for (const item of [value].flat()) if (item !== undefined && item !== null) search.append(name, String(item));
  }
  const text = search.toString();
  return text ? `${filled}?${text}` : filled;
}

/** An API path resolved against Airflow's base URL (the `<base href>` of Airflow's page). */
const apiUrl = (path: string): string => new URL(`whatsapp${path}`, document.baseURI).toString();

/** The error bodies the API documents: Meta's refusal (502), refused fields (422), or a `detail` line. */
type ErrorBody = Partial<Schema<"ErrorResponse">> & {
  detail?: string | Schema<"ValidationErrorResponse">["detail"];
};

const detailOf = (body: ErrorBody | null, status: number): string => {
  const error = body?.error;
  if (error?.message) return `Meta refused: ${error.message} (code ${error.code ?? "?"}/${error.subcode ?? "-"})`;
  const detail = body?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((item) => item.msg).join("; ");
  if (status === 401) return "Your Airflow session has ended: reload the page to log in again.";
  return `The WhatsApp API answered HTTP ${status}.`;
};

/** Fetch `path`; a refusal or an unreachable API is an {@link ApiError}. */
async function request<T>(path: string, init: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(apiUrl(path), { credentials: "same-origin", headers: { Accept: "application/json" }, ...init });
  } catch (failure) {
    if (init.signal?.aborted) throw failure;
    throw new ApiError(0, "The WhatsApp API cannot be reached.");
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, detailOf(body as ErrorBody | null, response.status));
  return body as T;
}

/** GET a route of the API. */
export const get = <P extends Route<"get">>(route: P, args: GetArgs<P>, signal?: AbortSignal) =>
  request<GetAnswer<P>>(routePath(route, args), { signal });

type Body<Op> = Op extends { requestBody: { content: { "application/json": infer B } } } ? B : never;

/**
 * POST to a route of the API: most take their input from the path and no body; the fleet's
 * bulk action takes its selection as a JSON body (typed by the route's request schema).
 */
export const post = <P extends Route<"post">>(route: P, args: Args<Operation<"post", P>>, body?: Body<Operation<"post", P>>) =>
  request<Answer<Operation<"post", P>>>(
    routePath(route, args),
    body === undefined
      ? { method: "POST" }
      : { method: "POST", body: JSON.stringify(body), headers: { Accept: "application/json", "Content-Type": "application/json" } },
  );

/** A channel's routes all start with this (its cache keys too). */
export const CHANNEL_ROUTE = "/api/v1/accounts/{account_id}/inboxes/{inbox_id}";

export type ChannelIds = { account_id: number | string; inbox_id: number | string };
