import { Alert, Button } from "@chakra-ui/react";

import type { ApiError } from "./api";

/** A failed API call in words; an ended session offers the reload that leads to Airflow's login. */
export function ErrorNote({ error }: { error: ApiError }) {
  return (
    <Alert.Root status="error" my={2} data-testid="wa-error">
      <Alert.Indicator />
      <Alert.Content>
        <Alert.Description>{error.message}</Alert.Description>
      </Alert.Content>
      {error.status === 401 && (
        <Button size="xs" variant="outline" onClick={() => window.location.reload()}>
          Log in again
        </Button>
      )}
    </Alert.Root>
  );
}
