// Entry of the bundle Airflow's UI imports (AIP-68 React apps). Airflow's loader reads the
// component from globalThis[<react app name>]; the names below are the plugin's react_apps names
// (plugins/whatsapp/plugin.py). The bundle is UMD with React, the router, Chakra and Emotion
// external, so it renders with Airflow's own copies, inside Airflow's router and theme.
import { useEffect, useState } from "react";
import { useLocation, useNavigate, useSearchParams } from "react-router-dom";

import { FleetCard } from "./Card";
import { ChannelView } from "./Channel";
import { Fleet } from "./Fleet";
import { RunPanel } from "./RunPanel";

type PluginProps = { dagId?: string; runId?: string; taskId?: string; mapIndex?: string };

const CHANNEL_PARAM = /^(\d{1,19})-(\d{1,19})$/;

/**
 * Airflow's loader renders a freshly imported bundle through React.lazy, and every later render
 * directly: its first re-render (the first URL change, e.g. a search) would remount the page,
 * dropping the search box's focus and any state. So the first mount renders nothing but a
 * re-render of Airflow's route (a replace-navigation to the same URL), which mounts the page for
 * good; when Airflow rendered it directly already (bundle loaded earlier), this mount shows the
 * page once that navigation has settled.
 */
let settled = false;
const SETTLE_MS = 50;

function useSettled(): boolean {
  const [ready, setReady] = useState(settled);
  const navigate = useNavigate();
  const location = useLocation();
  // Once, on the first mount only (the navigation changes `location`; a remount ignores the timer).
  useEffect(() => {
    if (settled) return;
    settled = true;
    void Promise.resolve(navigate(location, { replace: true, state: location.state })).then(() => {
      window.setTimeout(() => setReady(true), SETTLE_MS);
    });
  }, []); // eslint-disable-line react-hooks/exhaustive-deps
  return ready;
}

/** The nav page (fleet, or one channel with ?channel=<account>-<inbox>), or the DAG-run tab. */
function WhatsApp({ dagId, runId }: PluginProps) {
  const [params] = useSearchParams();
  const ready = useSettled();
  if (!ready) return null;
  if (dagId !== undefined && runId !== undefined) return <RunPanel dagId={dagId} runId={runId} />;
  const channel = CHANNEL_PARAM.exec(params.get("channel") ?? "");
  if (channel) return <ChannelView key={channel[0]} accountId={channel[1]} inboxId={channel[2]} />;
  return <Fleet />;
}

// The nav page and the DAG-run tab share the name "WhatsApp" (their label in Airflow's UI).
Object.assign(globalThis, { WhatsApp: WhatsApp, "WhatsApp fleet": FleetCard });
