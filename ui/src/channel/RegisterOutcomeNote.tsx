import { Box, HStack, Spinner, Text } from "@chakra-ui/react";

import type { Schema } from "../api";
import { AppLink } from "../AppLink";
import { ErrorNote } from "../ErrorNote";
import { PALETTE, type SituationSeverity } from "../severity";
import { FleetNextTry, type Schedule } from "../FleetSchedule";
import { errorCode, metaSaid } from "../situation";
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

/** Meta's refusal is the one the banner shows now: the banner says it (with what it means), once. */
const shownAbove = (outcome: Schema<"RegisterOutcome">, situation: Schema<"Situation"> | undefined): boolean =>
  outcome.kind === "refused" &&
  !!outcome.error?.message &&
  situation?.error?.message === outcome.error.message &&
  situation.error.code === outcome.error.code &&
  situation.error.subcode === outcome.error.subcode;

/**
 * What the last *Complete registration* did at Meta, with its run (live until the run ends). A
 * refusal the banner shows already is named by its code only: the two boxes said the same twice.
 */
export function RegisterOutcomeNote({
  registration,
  situation,
  schedule,
}: {
  registration: Registration;
  situation?: Schema<"Situation">;
  schedule?: Schedule;
}) {
  const { queued, result, error, running } = registration;
  const outcome = result?.outcome;
  const final = outcome !== undefined && outcome.kind !== "running";
  const above = final && shownAbove(outcome, situation);
  const said = final && !above ? metaSaid(outcome.text, outcome.error) : null;
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
              {!final
                ? "Complete registration is queued in Airflow: waiting for Meta's answer…"
                : above && outcome.error
                  ? `Meta refused the register call again (${errorCode(outcome.error)}): what it means is in the banner above.`
                  : outcome.text}
              {said && ` Meta: ${said}.`}
              {outcome?.next_try && !above && (
                <>
                  {" "}
                  Next try <FleetNextTry value={outcome.next_try} schedule={schedule} />.
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
