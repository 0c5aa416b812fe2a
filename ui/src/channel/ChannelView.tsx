// One channel: its situation as one banner with the action that fits, what Complete
// registration did at Meta (polled until the run's outcome is final), attempts and history.
import { Alert, Box, Button, DataList, Flex, Heading, HStack, Spinner, Table, Text } from "@chakra-ui/react";
import { useCallback, useEffect, useRef, useState } from "react";
import { useSearchParams } from "react-router-dom";

import {
  ApiError,
  type Attempt,
  type Channel,
  channelPath,
  type HistoryEntry,
  type Me,
  type OutcomeKind,
  type Permission,
  type RegisterOutcome,
  type RegisterQueued,
  type Severity,
  request,
  useApi,
} from "./api";
import { ErrorNote } from "./ErrorNote";
import { AppLink, ManagerLink, runPath } from "./links";
import { errorCode, metaSaid, PALETTE, situationOf } from "./situation";
import { Time } from "./time";

/** Attempts stored before the API named their DAG came from the register DAG. */
const REGISTER_DAG_ID = "whatsapp_register_channel";
const POLL_MS = 2000;
const ALERT_STATUS = { ok: "success", info: "info", warning: "warning", error: "error" } as const;
/** How each register outcome reads: registered is good news, a refusal is not, the rest inform. */
const OUTCOME_SEVERITY: Record<OutcomeKind, Severity> = {
  running: "info",
  registered: "ok",
  refused: "warning",
  no_call: "info",
  not_needed: "info",
  failed: "error",
};

/**
 * How often an open channel view reads the channel again while the tab is visible: Meta's review
 * verdicts, quality changes and the fleet's audits land in the store at any time (webhooks within
 * a second), and a person watching a number should see them without reloading the page.
 */
const REFRESH_MS = 10_000;

export function ChannelView({ accountId, inboxId }: { accountId: string; inboxId: string }) {
  const [, setParams] = useSearchParams();
  const path = channelPath(accountId, inboxId);
  const health = useApi<Channel>(`${path}/health`);
  const attempts = useApi<{ attempts: Attempt[] }>(`${path}/attempts?limit=20`);
  const history = useApi<{ history: HistoryEntry[] }>(`${path}/history?limit=20`);
  const meLoaded = useApi<Me>("me");
  const me = meLoaded.data;
  const { reload: reloadHealth } = health;
  const { reload: reloadAttempts } = attempts;
  const { reload: reloadHistory } = history;
  const reloadAll = useCallback(() => {
    reloadHealth();
    reloadAttempts();
    reloadHistory();
  }, [reloadHealth, reloadAttempts, reloadHistory]);
  // A channel answered 404 is gone (offboarded, deleted): asking again every 10 s would only
  // repeat the 404, so the view stops refreshing and keeps saying so.
  const gone = health.error?.status === 404;
  useEffect(() => {
    if (gone) return undefined;
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") reloadAll();
    }, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [reloadAll, gone]);
  const registration = useRegistration(path, reloadAll);
  const back = () =>
    setParams((previous) => {
      const next = new URLSearchParams(previous);
      next.delete("channel");
      return next;
    });
  const channel = health.data;
  // The view appears whole (with the user's permissions applied), not piece by piece.
  const ready = [health, attempts, history, meLoaded].every((part) => part.data ?? part.error);
  if (!ready) return <Spinner m={4} />;

  return (
    <Box data-testid="wa-channel" p={2}>
      <Button data-testid="wa-back" size="xs" variant="ghost" onClick={back} mb={2}>
        ← All channels
      </Button>
      {health.error && <ErrorNote error={health.error} />}
      {channel && (
        <>
          <Flex justify="space-between" align="start" wrap="wrap" gap={3}>
            <Box>
              <Heading size="lg">{channel.display_phone_number ?? channel.phone_number_id}</Heading>
              <Text color="fg.muted">
                {channel.verified_name ?? "No display name yet"} · account {channel.account_id}, inbox{" "}
                {channel.inbox_id}
              </Text>
            </Box>
            <HStack gap={3}>
              <ManagerLink href={channel.links.whatsapp_manager} testId="wa-manager-link">
                WhatsApp Manager
              </ManagerLink>
              <RefreshButton path={path} permission={me?.permissions.refresh} onDone={reloadAll} />
            </HStack>
          </Flex>
          <Banner channel={channel} me={me} registration={registration} />
          <RegisterOutcomeNote registration={registration} />
          <Details channel={channel} />
        </>
      )}
      <Heading size="md" mt={6} mb={2}>
        Register attempts
      </Heading>
      {attempts.error && <ErrorNote error={attempts.error} />}
      {attempts.data && <Attempts attempts={attempts.data.attempts} />}
      <Heading size="md" mt={6} mb={2}>
        Health history
      </Heading>
      {history.error && <ErrorNote error={history.error} />}
      {history.data && <History history={history.data.history} />}
    </Box>
  );
}

/** One banner for the channel's situation, with the action that fits it. */
function Banner({ channel, me, registration }: { channel: Channel; me?: Me; registration: Registration }) {
  const situation = situationOf(channel);
  const refusal = metaSaid(situation.detail, situation.error);
  const { action } = situation;
  return (
    <Alert.Root
      data-testid="wa-banner"
      data-kind={situation.kind}
      status={ALERT_STATUS[situation.severity]}
      colorPalette={PALETTE[situation.severity]}
      my={4}
      alignItems="start"
    >
      <Alert.Indicator />
      <Alert.Content gap={1}>
        <Alert.Title>
          {situation.title}
          {situation.since && (
            <Text as="span" fontWeight="normal">
              {" "}
              since <Time value={situation.since} />
            </Text>
          )}
        </Alert.Title>
        {situation.detail && <Alert.Description>{situation.detail}</Alert.Description>}
        {refusal && <Text fontSize="sm">Meta refused: {refusal}</Text>}
        {situation.next_try && (
          <Text fontSize="sm">
            Next try: <Time value={situation.next_try} />
          </Text>
        )}
        {situation.deadline && (
          <Text fontSize="sm">
            Deadline: <Time value={situation.deadline} />
          </Text>
        )}
        {action.kind !== "none" && (
          <Box data-testid="wa-banner-action" data-action={action.kind} mt={2}>
            {action.kind === "complete_registration" ? (
              <GuardedButton
                testId="wa-register-button"
                permission={me?.permissions.register}
                busy={registration.running}
                onClick={registration.start}
              >
                {action.label}
              </GuardedButton>
            ) : action.kind === "open_whatsapp_manager" || action.kind === "change_display_name" ? (
              <ManagerLink href={channel.links.whatsapp_manager} testId="wa-banner-manager-link">
                {action.label}
              </ManagerLink>
            ) : (
              <Text fontWeight="semibold">{action.label}</Text>
            )}
            {action.kind === "wait" && channel.registration.state !== "registered" && (
              <Box mt={2}>
                <GuardedButton
                  testId="wa-register-button"
                  variant="outline"
                  permission={me?.permissions.register}
                  busy={registration.running}
                  onClick={registration.start}
                >
                  Complete registration now
                </GuardedButton>
              </Box>
            )}
          </Box>
        )}
      </Alert.Content>
    </Alert.Root>
  );
}

/** A button the user's role may not use: disabled, with the reason as tooltip and in words. */
function GuardedButton({
  testId,
  permission,
  busy,
  onClick,
  children,
  variant = "solid",
}: {
  testId: string;
  permission?: Permission;
  busy: boolean;
  onClick: () => void;
  children: string;
  variant?: "solid" | "outline";
}) {
  const refused = permission !== undefined && !permission.allowed;
  const reason = refused ? (permission.reason ?? "your role does not allow this") : undefined;
  return (
    <HStack gap={2}>
      <Button
        data-testid={testId}
        size="sm"
        variant={variant}
        disabled={refused || busy}
        title={reason}
        loading={busy}
        onClick={onClick}
      >
        {children}
      </Button>
      {reason && (
        <Text fontSize="xs" color="fg.muted">
          Not available: {reason}
        </Text>
      )}
    </HStack>
  );
}

function RefreshButton({ path, permission, onDone }: { path: string; permission?: Permission; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const refresh = () => {
    setBusy(true);
    setError(undefined);
    request<Channel>(`${path}/health?refresh=true`)
      .catch((failure: unknown) => setError(asApiError(failure)))
      .finally(() => {
        setBusy(false);
        onDone();
      });
  };
  return (
    <Box>
      <GuardedButton testId="wa-refresh-button" permission={permission} busy={busy} onClick={refresh}>
        Refresh from Meta
      </GuardedButton>
      {error && <ErrorNote error={error} />}
    </Box>
  );
}

type Registration = {
  start: () => void;
  running: boolean;
  queued?: RegisterQueued;
  result?: RegisterOutcome;
  error?: ApiError;
};

/**
 * Complete registration: queue the run, then poll what it did at Meta until the outcome is final
 * (then `onDone` reloads the channel). Owned by the channel view, so the outcome stays on screen
 * when the banner changes with the channel's new situation.
 */
function useRegistration(path: string, onDone: () => void): Registration {
  const [queued, setQueued] = useState<RegisterQueued>();
  const [result, setResult] = useState<RegisterOutcome>();
  const [error, setError] = useState<ApiError>();
  const running = queued !== undefined && (result === undefined || result.outcome.kind === "running");
  const done = useRef(onDone);
  done.current = onDone;

  useEffect(() => {
    if (!running) return;
    let cancelled = false;
    const timer = window.setTimeout(() => {
      request<RegisterOutcome>(`${path}/register/${encodeURIComponent(queued.dag_run_id)}`).then(
        (next) => {
          if (cancelled) return;
          setResult(next);
          if (next.outcome.kind !== "running") done.current();
        },
        (failure: unknown) => {
          if (cancelled) return;
          setError(asApiError(failure));
          setQueued(undefined);
        },
      );
    }, POLL_MS);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [running, queued, result, path]);

  const start = () => {
    setError(undefined);
    setResult(undefined);
    setQueued(undefined);
    request<RegisterQueued>(`${path}/register`, { method: "POST" }).then(setQueued, (failure: unknown) =>
      setError(asApiError(failure)),
    );
  };
  return { start, running, queued, result, error };
}

/** What the last *Complete registration* did at Meta, with its run (live until the run ends). */
function RegisterOutcomeNote({ registration }: { registration: Registration }) {
  const { queued, result, error } = registration;
  const outcome = result?.outcome;
  const run = result?.run ?? queued;
  const final = outcome !== undefined && outcome.kind !== "running";
  const said = final ? metaSaid(outcome.text, outcome.error) : null;
  return (
    <>
      {error && <ErrorNote error={error} />}
      {run && (
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
            {!final && <Spinner size="xs" />}
            <Text>
              {final ? outcome.text : "Complete registration is queued in Airflow: waiting for Meta's answer…"}
              {said && ` Meta: ${said}.`}
              {outcome?.next_try && (
                <>
                  {" "}
                  Next try <Time value={outcome.next_try} />.
                </>
              )}
            </Text>
          </HStack>
          <AppLink to={runPath(run.dag_id, run.dag_run_id)} testId="wa-run-link">
            Open the run in Airflow
          </AppLink>
          {queued?.dag_paused && (
            <Text color="fg.warning">The register DAG is paused: the run waits until it is unpaused.</Text>
          )}
        </Box>
      )}
    </>
  );
}

const asApiError = (failure: unknown): ApiError =>
  failure instanceof ApiError ? failure : new ApiError(0, "The WhatsApp API cannot be reached.");

function Details({ channel }: { channel: Channel }) {
  const items: [string, string | null | undefined][] = [
    ["Phone number ID", channel.phone_number_id],
    ["WABA", channel.waba_id],
    ["Status", channel.status],
    ["Display name status", channel.name_status],
    ["Quality", channel.quality_rating],
    ["Throughput", channel.throughput?.level],
    ["Account mode", channel.account_mode],
    ["Provisioning", channel.provisioning],
    ["Registration", channel.registration.state.replaceAll("_", " ")],
    ["Register calls (72 h)", String(channel.registration.attempts_72h)],
  ];
  return (
    <Box>
      <DataList.Root orientation="horizontal" size="sm" display="grid" gridTemplateColumns="repeat(auto-fill, minmax(18rem, 1fr))">
        {items.map(([label, value]) => (
          <DataList.Item key={label}>
            <DataList.ItemLabel>{label}</DataList.ItemLabel>
            <DataList.ItemValue>{value ?? "–"}</DataList.ItemValue>
          </DataList.Item>
        ))}
        <DataList.Item>
          <DataList.ItemLabel>Last checked</DataList.ItemLabel>
          <DataList.ItemValue>
            <Time value={channel.checked_at} />
          </DataList.ItemValue>
        </DataList.Item>
      </DataList.Root>
      {channel.notes?.map((note) => (
        <Text key={note} fontSize="sm" mt={1}>
          {note}
        </Text>
      ))}
    </Box>
  );
}

/** The run a row came from: the API's run_url, or the register DAG's run by id. */
const attemptRun = (attempt: Attempt): string | null =>
  attempt.run_url ?? (attempt.run_id ? runPath(attempt.dag_id ?? REGISTER_DAG_ID, attempt.run_id) : null);

/** A row's words, linked to the Airflow run the row came from when there is one. */
function RunLink({ to, children }: { to: string | null | undefined; children: string }) {
  return to ? (
    <AppLink to={to} testId="wa-run-link">
      {children}
    </AppLink>
  ) : (
    children
  );
}

function Attempts({ attempts }: { attempts: Attempt[] }) {
  if (attempts.length === 0) return <Text color="fg.muted">No register call was sent for this channel.</Text>;
  return (
    <Table.Root size="sm" variant="outline">
      <Table.Header>
        <Table.Row>
          <Table.ColumnHeader>Sent</Table.ColumnHeader>
          <Table.ColumnHeader>Outcome</Table.ColumnHeader>
          <Table.ColumnHeader>State after</Table.ColumnHeader>
          <Table.ColumnHeader>Meta's answer</Table.ColumnHeader>
          <Table.ColumnHeader>Run</Table.ColumnHeader>
        </Table.Row>
      </Table.Header>
      <Table.Body>
        {attempts.map((attempt, index) => {
          const run = attemptRun(attempt);
          return (
            <Table.Row key={`${attempt.attempted_at}-${index}`} data-testid="wa-attempt-row">
              <Table.Cell>
                <Time value={attempt.attempted_at} />
              </Table.Cell>
              <Table.Cell>{attempt.outcome}</Table.Cell>
              <Table.Cell>{attempt.resulting_state.replaceAll("_", " ")}</Table.Cell>
              <Table.Cell>
                {attempt.message ? `${attempt.message} (${errorCode(attempt)})` : "–"}
              </Table.Cell>
              <Table.Cell>
                <RunLink to={run}>{run ? (attempt.run_id ?? "run") : "–"}</RunLink>
              </Table.Cell>
            </Table.Row>
          );
        })}
      </Table.Body>
    </Table.Root>
  );
}

function History({ history }: { history: HistoryEntry[] }) {
  if (history.length === 0) return <Text color="fg.muted">No health check is stored yet.</Text>;
  return (
    <Table.Root size="sm" variant="outline">
      <Table.Header>
        <Table.Row>
          <Table.ColumnHeader>Checked</Table.ColumnHeader>
          <Table.ColumnHeader>Source</Table.ColumnHeader>
          <Table.ColumnHeader>Status</Table.ColumnHeader>
          <Table.ColumnHeader>Display name</Table.ColumnHeader>
          <Table.ColumnHeader>Quality</Table.ColumnHeader>
          <Table.ColumnHeader>Error</Table.ColumnHeader>
        </Table.Row>
      </Table.Header>
      <Table.Body>
        {history.map((entry, index) => (
          <Table.Row key={`${entry.checked_at}-${index}`} data-testid="wa-history-row">
            <Table.Cell>
              <Time value={entry.checked_at} />
            </Table.Cell>
            <Table.Cell>
              <RunLink to={entry.run_url}>{entry.event ?? "health read"}</RunLink>
            </Table.Cell>
            <Table.Cell>{entry.status ?? "–"}</Table.Cell>
            <Table.Cell>{entry.name_status ?? "–"}</Table.Cell>
            <Table.Cell>{entry.quality_rating ?? "–"}</Table.Cell>
            <Table.Cell>{entry.error ? `${entry.error.message ?? entry.error.type} (${errorCode(entry.error)})` : "–"}</Table.Cell>
          </Table.Row>
        ))}
      </Table.Body>
    </Table.Root>
  );
}
