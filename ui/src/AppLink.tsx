// Links out of the page. Airflow's own pages go through Airflow's router (this page is part of
// Airflow's document, so a run link is an in-app navigation); WhatsApp Manager opens a new tab.
import { Link } from "@chakra-ui/react";
import type { ReactNode } from "react";
import { Link as RouterLink } from "react-router-dom";

/** The page's own route in Airflow's UI (the nav react app's url_route). */
export const PAGE_PATH = "/plugin/whatsapp-health";

/** A DAG run in Airflow's UI, relative to Airflow's base URL (what the API's run_url holds). */
export const runPath = (dagId: string, runId: string): string =>
  `/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}`;

export const channelPagePath = (accountId: number, inboxId: number): string =>
  `${PAGE_PATH}?channel=${accountId}-${inboxId}`;

export function AppLink({ to, children, testId }: { to: string; children: ReactNode; testId?: string }) {
  return (
    <Link asChild color="fg.info" data-testid={testId}>
      <RouterLink to={to}>{children}</RouterLink>
    </Link>
  );
}

export function ManagerLink({ href, children, testId }: { href: string; children: ReactNode; testId: string }) {
  return (
    <Link href={href} target="_blank" rel="noopener noreferrer" color="fg.info" data-testid={testId}>
      {children} ↗
    </Link>
  );
}
