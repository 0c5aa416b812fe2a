import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";

import { type ApiError, post, type Schema } from "../api";
import { useGet } from "../queries";

/** How often the page asks what a queued bulk action did so far, until its run is over. */
const POLL_MS = 2000;
/** Airflow's run states that end a run. */
const FINAL = new Set(["success", "failed"]);

type Request = Schema<"FleetActionRequest">;
/** The body as the page sends it: what the API has defaults for (chunk size, a filter's "any") left out. */
export type FleetActionBody = Pick<Request, "action" | "channels"> & { filter?: Partial<NonNullable<Request["filter"]>> };

export type FleetActionState = {
  start: (body: FleetActionBody) => void;
  running: boolean;
  queued?: Schema<"FleetActionQueued">;
  result?: Schema<"FleetActionRun">;
  error?: ApiError;
};

const isRunning = (result: Schema<"FleetActionRun"> | undefined): boolean =>
  result === undefined || !FINAL.has(result.run.state);

/**
 * A bulk action: queue ONE `whatsapp_fleet_action` run, then poll each number's outcome until the
 * run is over; then the fleet table is asked again, so it shows every channel's new state.
 */
export function useFleetAction(): FleetActionState {
  const queryClient = useQueryClient();
  const queue = useMutation({ mutationFn: (body: FleetActionBody) => post("/api/v1/fleet/actions", {}, body as Request) });
  const queued = queue.data;
  const poll = useGet("/api/v1/fleet/actions/{dag_run_id}", queued ? { path: { dag_run_id: queued.dag_run_id } } : null, {
    refetchInterval: (query) => (query.state.error === null && isRunning(query.state.data) ? POLL_MS : false),
    refetchIntervalInBackground: true,
  });
  const result = poll.data;
  const running = queue.isPending || (queued !== undefined && poll.error === null && isRunning(result));
  const final = queued !== undefined && result !== undefined && !isRunning(result);
  useEffect(() => {
    if (!final) return;
    // The fleet's pages and counts (keys "/api/v1/fleet?..." split at "/"), not this run's answer.
    void queryClient.invalidateQueries({
      predicate: ({ queryKey }) => queryKey[1] === "api" && queryKey[2] === "v1" && String(queryKey[3]).startsWith("fleet?"),
    });
  }, [final, queryClient]);
  return { start: (body) => queue.mutate(body), running, queued, result, error: queue.error ?? poll.error ?? undefined };
}
