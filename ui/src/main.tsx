// Entry of the bundle Airflow's UI imports (AIP-68 React apps). Airflow's loader reads the
// component from globalThis[<react app name>]; the names below are the plugin's react_apps names
// (plugins/whatsapp/plugin.py). The bundle is UMD with React, the router, Chakra and Emotion
// external, so it renders with Airflow's own copies, inside Airflow's router and theme.
import { FleetCard } from "./FleetCard";
import { queryClient } from "./queries";
import { WhatsApp } from "./WhatsApp";
import { withQueries } from "./withQueries";

// The nav page and the DAG-run tab share the name "WhatsApp" (their label in Airflow's UI).
Object.assign(globalThis, { WhatsApp: withQueries(WhatsApp), "WhatsApp fleet": withQueries(FleetCard) });
// The page's query cache where TanStack Query's browser devtools extension looks for it, which is
// also how the browser tests empty it between tests that share one loaded Airflow UI.
Object.assign(globalThis, { __TANSTACK_QUERY_CLIENT__: queryClient });
