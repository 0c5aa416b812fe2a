import { QueryClientProvider } from "@tanstack/react-query";
import type { ComponentType } from "react";

import { queryClient } from "./queries";

/** `App` inside the page's query client: Airflow renders each of the bundle's apps on its own. */
export function withQueries<Props extends object>(App: ComponentType<Props>): ComponentType<Props> {
  const WithQueries = (props: Props) => (
    <QueryClientProvider client={queryClient}>
      <App {...props} />
    </QueryClientProvider>
  );
  WithQueries.displayName = `WithQueries(${App.displayName ?? App.name})`;
  return WithQueries;
}
