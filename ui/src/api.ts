// The plugin's health API (/whatsapp/api/v1), called like Airflow's UI calls its own API: same
// origin, so the browser sends Airflow's httponly `_token` cookie; the page keeps no token.
import { useCallback, useEffect, useState } from "react";

export type Severity = "ok" | "info" | "warning" | "error";

export type GraphError = {
  type: string;
  message: string | null;
  code: number | null;
  subcode: number | null;
};

export type ActionKind =
  | "complete_registration"
  | "open_whatsapp_manager"
  | "customer_reauthorize"
  | "wait"
  | "change_display_name"
  | "onboard_again"
  | "none";

export type Situation = {
  kind: string;
  severity: Severity;
  needs_action: boolean;
  title: string;
  detail: string;
  since: string | null;
  next_try: string | null;
  deadline: string | null;
  error: GraphError | null;
  action: { kind: ActionKind; label: string };
};

export type Channel = {
  account_id: number;
  inbox_id: number;
  phone_number_id: string;
  waba_id: string;
  display_phone_number: string | null;
  verified_name: string | null;
  quality_rating?: string | null;
  name_status?: string | null;
  status?: string | null;
  account_mode?: string | null;
  throughput?: { level: string | null } | null;
  checked_at: string | null;
  provisioning: string | null;
  reauthorization_required: boolean;
  reauthorization_reason: string | null;
  registration: {
    state: string;
    attempts_72h: number;
    last_attempt_at: string | null;
    last_error: GraphError | null;
    next_attempt_at: string | null;
  };
  links: { whatsapp_manager: string };
  active?: boolean;
  notes?: string[];
  situation?: Situation;
};

export type Counts = {
  situation?: Record<string, number>;
  needs_action?: number;
  [dimension: string]: unknown;
};

export type LastAudit = { created_at: string | null; counts: Record<string, unknown> };

export type FleetPage = { total: number; channels: Channel[]; counts: Counts; last_audit: LastAudit | null };

export type FleetSummary = { total: number; needs_action: number; counts: Counts; last_audit: LastAudit | null };

export type Permission = { allowed: boolean; reason: string | null };

export type Me = { username: string; permissions: Record<"register" | "refresh" | "onboard", Permission> };

export type RunRef = { dag_id: string; dag_run_id: string; state?: string; url?: string };

export type OutcomeKind = "running" | "registered" | "refused" | "no_call" | "not_needed" | "failed";

export type RegisterOutcome = {
  run: RunRef;
  outcome: { kind: OutcomeKind; text: string; error: GraphError | null; next_try: string | null };
};

export type Attempt = {
  attempted_at: string | null;
  outcome: string;
  resulting_state: string;
  code: number | null;
  subcode: number | null;
  message: string | null;
  run_id: string | null;
  run_url?: string | null;
  dag_id?: string | null;
};

export type HistoryEntry = {
  checked_at: string | null;
  status?: string | null;
  name_status?: string | null;
  quality_rating?: string | null;
  provisioning: string | null;
  error: GraphError | null;
  event?: string | null;
  run_id?: string | null;
  dag_id?: string | null;
  run_url?: string | null;
};

/** A situation kind's fixed part, from GET /vocabulary (the API's one declaration of them). */
export type SituationKindInfo = { kind: string; severity: Severity; needs_action: boolean; title: string };

export type Vocabulary = { situations?: SituationKindInfo[] };

export type RegisterQueued = { dag_id: string; dag_run_id: string; state: string; dag_paused: boolean };

/** A refused call: the HTTP status and the API's `detail` (or Graph error) in words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An API path resolved against Airflow's base URL (the `<base href>` of Airflow's page). */
export const apiUrl = (path: string): string => new URL(`whatsapp/api/v1/${path}`, document.baseURI).toString();

const detailOf = (body: unknown, status: number): string => {
  if (body && typeof body === "object") {
    const { detail, error } = body as { detail?: unknown; error?: GraphError };
    if (error?.message) return `Meta refused: ${error.message} (code ${error.code ?? "?"}/${error.subcode ?? "-"})`;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((item: { msg?: string }) => item.msg ?? "").join("; ");
  }
  if (status === 401) return "Your Airflow session has ended: reload the page to log in again.";
  return `The WhatsApp API answered HTTP ${status}.`;
};

export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(apiUrl(path), {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    ...init,
  });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, detailOf(body, response.status));
  return body as T;
}

export type Loaded<T> = { data: T | undefined; error: ApiError | undefined; loading: boolean; reload: () => void };

/** GET `path` (again whenever `path` changes or `reload` is called); `null` fetches nothing. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: path !== null });
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  useEffect(() => {
    if (path === null) return;
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    request<T>(path, { signal: controller.signal }).then(
      (data) => setState({ data, loading: false }),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        const failure = error instanceof ApiError ? error : new ApiError(0, "The WhatsApp API cannot be reached.");
        setState((previous) => ({ data: previous.data, error: failure, loading: false }));
      },
    );
    return () => controller.abort();
  }, [path, generation]);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export const channelPath = (accountId: number | string, inboxId: number | string): string =>
  `accounts/${accountId}/inboxes/${inboxId}`;
