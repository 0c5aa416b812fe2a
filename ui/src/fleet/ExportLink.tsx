import { Button } from "@chakra-ui/react";

import { linkTo, type Schema } from "../api";
import { filterQuery } from "./params";

/**
 * Every channel the current filters match (all pages), as a CSV file: a plain link, which the
 * browser downloads with Airflow's session cookie, as the page's own calls go.
 */
export function ExportLink({ params, vocabulary }: { params: URLSearchParams; vocabulary: Schema<"Vocabulary"> }) {
  const query = filterQuery(params, vocabulary) ?? {};
  return (
    <Button asChild size="xs" variant="outline">
      <a data-testid="wa-export-csv" href={linkTo("/api/v1/fleet/export.csv", { query })} download>
        Export CSV
      </a>
    </Button>
  );
}
