import { Box } from "@chakra-ui/react";
import { useMutation } from "@tanstack/react-query";

import { CHANNEL_ROUTE, type ChannelIds, get, type Schema } from "../api";
import { ErrorNote } from "../ErrorNote";
import { GuardedButton } from "./GuardedButton";

/** *Refresh from Meta*: a live health read; the view reloads after it, failed or not (a failed read is stored too). */
export function RefreshButton({
  ids,
  permission,
  onDone,
}: {
  ids: ChannelIds;
  permission?: Schema<"Permission">;
  onDone: () => void;
}) {
  const refresh = useMutation({
    mutationFn: () => get(`${CHANNEL_ROUTE}/health`, { path: ids, query: { refresh: true } }),
    onSettled: onDone,
  });
  return (
    <Box>
      <GuardedButton
        testId="wa-refresh-button"
        permission={permission}
        busy={refresh.isPending}
        onClick={() => refresh.mutate()}
      >
        Refresh from Meta
      </GuardedButton>
      {refresh.error && <ErrorNote error={refresh.error} />}
    </Box>
  );
}
