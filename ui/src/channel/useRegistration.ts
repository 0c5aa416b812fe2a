import { useMutation } from "@tanstack/react-query";
import { useEffect } from "react";

import { type ApiError, CHANNEL_ROUTE, type ChannelIds, post, type Schema } from "../api";
import { useGet } from "../queries";

/** How often the page asks what a queued *Complete registration* run did, until it is over. */
const POLL_MS = 2000;

export type Registration = {
  start: () => void;
  running: boolean;
  queued?: Schema<"RegisterResponse">;
  result?: Schema<"RegisterRunResponse">;
  error?: ApiError;
};

const isRunning = (result: Schema<"RegisterRunResponse"> | undefined): boolean =>
  result === undefined || result.outcome.kind === "running";

/**
 * Complete registration: queue the run, then poll what it did at Meta until the outcome is final
 * (then `onDone` reloads the channel). Owned by the channel view, so the outcome stays on screen
 * when the banner changes with the channel's new situation.
 */
export function useRegistration(ids: ChannelIds, onDone: () => void): Registration {
  const queue = useMutation({ mutationFn: () => post(`${CHANNEL_ROUTE}/register`, { path: ids }) });
  const queued = queue.data;
  const poll = useGet(
    `${CHANNEL_ROUTE}/register/{dag_run_id}`,
    queued ? { path: { ...ids, dag_run_id: queued.dag_run_id } } : null,
    {
      // Until the outcome is final or the poll fails; also while the tab is hidden (the run goes on).
      refetchInterval: (query) => (query.state.error === null && isRunning(query.state.data) ? POLL_MS : false),
      refetchIntervalInBackground: true,
    },
  );
  const result = poll.data;
  const running = queue.isPending || (queued !== undefined && poll.error === null && isRunning(result));
  const final = queued !== undefined && !running;
  useEffect(() => {
    if (final) onDone();
  }, [final, onDone]);
  return { start: () => queue.mutate(), running, queued, result, error: queue.error ?? poll.error ?? undefined };
}
