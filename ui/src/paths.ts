// Where the page's links lead inside Airflow's UI (relative to Airflow's base URL).

/** The page's own route in Airflow's UI (the nav react app's url_route). */
export const PAGE_PATH = "/plugin/whatsapp-health";

export const channelPagePath = (accountId: number, inboxId: number): string =>
  `${PAGE_PATH}?channel=${accountId}-${inboxId}`;
