import { useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";

import { ChannelView } from "./channel/ChannelView";
import { Fleet } from "./fleet/Fleet";
import { vocabularyQuery } from "./queries";
import { RunPanel } from "./RunPanel";
import { useSettled } from "./settle";

type PluginProps = { dagId?: string; runId?: string; taskId?: string; mapIndex?: string };

const CHANNEL_PARAM = /^(\d{1,19})-(\d{1,19})$/;

/** The nav page (fleet, or one channel with ?channel=<account>-<inbox>), or the DAG-run tab. */
export function WhatsApp({ dagId, runId }: PluginProps) {
  const [params] = useSearchParams();
  const ready = useSettled();
  const isRun = dagId !== undefined && runId !== undefined;
  // The page's labels and defaults, asked for while the page settles (the run tab needs none).
  useQuery({ ...vocabularyQuery, enabled: !isRun });
  if (!ready) return null;
  if (isRun) return <RunPanel dagId={dagId} runId={runId} />;
  const channel = CHANNEL_PARAM.exec(params.get("channel") ?? "");
  if (channel) return <ChannelView key={channel[0]} accountId={channel[1]} inboxId={channel[2]} />;
  return <Fleet />;
}
