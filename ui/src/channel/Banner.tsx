import { Alert, Box, HStack, Text } from "@chakra-ui/react";

import type { Schema } from "../api";
import { AppLink } from "../AppLink";
import { FleetNextTry, type Schedule } from "../FleetSchedule";
import { ManagerLink } from "../ManagerLink";
import { PALETTE, type SituationSeverity } from "../severity";
import { metaSaid } from "../situation";
import { formatTime, Time, useAhead, useTimezone } from "../Time";
import { GuardedButton, type Held } from "./GuardedButton";
import type { Registration } from "./useRegistration";

const ALERT_STATUS: Record<SituationSeverity, "success" | "info" | "warning" | "error"> = {
  ok: "success",
  info: "info",
  warning: "warning",
  error: "error",
};

/**
 * Why *Complete registration* waits, in a situation the API holds it in (Meta's register limit:
 * another call before the window reopens is refused and counted; the API answers 409) until the
 * situation's next try.
 */
function useRegisterHold(situation: Schema<"Situation">, info: Schema<"SituationKindInfo"> | undefined): Held | undefined {
  const zone = useTimezone();
  const ahead = useAhead(situation.next_try);
  if (!info?.register_held || (situation.next_try && !ahead)) return undefined;
  const reopens = situation.next_try;
  return {
    reason: reopens ? (
      <>
        Meta takes no register call for this number before <Time value={reopens} />.
      </>
    ) : (
      "Meta takes no register call for this number until the fleet's next try."
    ),
    title: reopens ? `Meta takes no register call before ${formatTime(reopens, zone)} ${zone}` : situation.title,
  };
}

/** One banner for the channel's situation, with the action that fits it. */
export function Banner({
  channel,
  me,
  registration,
  vocabulary,
  schedule,
}: {
  channel: Schema<"ChannelHealth">;
  me?: Schema<"Me">;
  registration: Registration;
  vocabulary?: Schema<"Vocabulary">;
  schedule?: Schedule;
}) {
  const { situation } = channel;
  const refusal = metaSaid(situation.detail, situation.error);
  const { action } = situation;
  const info = vocabulary?.situations.find((known) => known.kind === situation.kind);
  const held = useRegisterHold(situation, info);
  // A WhatsApp Business app number is registered through the app: Meta takes no register call
  // for it and the API answers 409, so the button is not offered.
  const app = channel.business_app;
  const registerButton = (variant: "solid" | "outline", label: string) => (
    <GuardedButton
      testId="wa-register-button"
      variant={variant}
      permission={me?.permissions.register}
      held={held}
      busy={registration.running}
      onClick={registration.start}
    >
      {label}
    </GuardedButton>
  );
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
            Next try: <FleetNextTry value={situation.next_try} schedule={schedule} wordy />
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
              app ? (
                <Text fontSize="sm" color="fg.muted" data-testid="wa-register-not-offered">
                  {action.label}: not offered for a {app.label} number (the app registered it).
                </Text>
              ) : (
                registerButton("solid", action.label)
              )
            ) : action.kind === "open_whatsapp_manager" ? (
              <HStack gap={4} wrap="wrap" align="center">
                <ManagerLink href={channel.links.whatsapp_manager} testId="wa-banner-manager-link">
                  {action.label}
                </ManagerLink>
                {/* Fixed in WhatsApp Manager: then the register call, as the advice says. */}
                {info?.also_register && !app && registerButton("outline", "Complete registration")}
              </HStack>
            ) : info?.action_path ? (
              // A DAG to trigger: its page in Airflow, whose Trigger button opens the form.
              <Text fontSize="sm">
                <AppLink to={info.action_path} testId="wa-banner-dag-link">
                  {action.label}
                </AppLink>
                : trigger it with account_id {channel.account_id} and inbox_id {channel.inbox_id}.
              </Text>
            ) : (
              <Text fontWeight="semibold">{action.label}</Text>
            )}
            {action.kind === "wait" && !app && channel.registration.state !== "registered" && (
              <Box mt={2}>{registerButton("outline", "Complete registration now")}</Box>
            )}
          </Box>
        )}
      </Alert.Content>
    </Alert.Root>
  );
}
