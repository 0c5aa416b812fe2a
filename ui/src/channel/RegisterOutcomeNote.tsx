import { Box, HStack, Spinner, Text } from "@chakra-ui/react";

import type { Schema } from "../api";
import { AppLink } from "../AppLink";
import { ErrorNote } from "../ErrorNote";
import { PALETTE, type SituationSeverity } from "../severity";
import { metaSaid } from "../situation";
import { NextTry } from "../Time";
import type { Registration } from "./useRegistration";

/** How each register outcome reads: registered is good news, a refusal is not, the rest inform. */
const OUTCOME_SEVERITY: Record<Schema<"RegisterOutcome">["kind"], SituationSeverity> = {
  running: "info",
  registered: "ok",
  refused: "warning",
  no_call: "info",
  not_needed: "info",
  failed: "error",
};

/** What the last *Complete registration* did at Meta, with its run (live until the run ends). */
export function RegisterOutcomeNote({ registration }: { registration: Registration }) {
  const { queued, result, error, running } = registration;
  const outcome = result?.outcome;
  const final = outcome !== undefined && outcome.kind !== "running";
  const said = final ? metaSaid(outcome.text, outcome.error) : null;
  return (
    <>
      {error && <ErrorNote error={error} />}
      {queued && (
        <Box
          data-testid="wa-register-outcome"
          data-kind={outcome?.kind ?? "running"}
          colorPalette={PALETTE[OUTCOME_SEVERITY[outcome?.kind ?? "running"]]}
          borderColor="colorPalette.muted"
          bg="colorPalette.subtle"
          borderWidth="1px"
          borderRadius="md"
          p={3}
          mb={4}
          fontSize="sm"
        >
          <HStack gap={2}>
            {running && <Spinner size="xs" />}
            <Text>
              {final ? outcome.text : "Complete registration is queued in Airflow: waiting for Meta's answer…"}
              {said && ` Meta: ${said}.`}
              {outcome?.next_try && (
                <>
                  {" "}
                  Next try <NextTry value={outcome.next_try} />.
                </>
              )}
            </Text>
          </HStack>
          {result && (
            <AppLink to={result.run.url} testId="wa-run-link">
              Open the run in Airflow
            </AppLink>
          )}
          {queued.dag_paused && (
            <Text color="fg.warning">The register DAG is paused: the run waits until it is unpaused.</Text>
          )}
        </Box>
      )}
    </>
  );
}
