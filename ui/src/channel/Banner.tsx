import { Alert, Box, Text } from "@chakra-ui/react";

import type { Schema } from "../api";
import { ManagerLink } from "../ManagerLink";
import { PALETTE, type SituationSeverity } from "../severity";
import { metaSaid } from "../situation";
import { Time } from "../Time";
import { GuardedButton } from "./GuardedButton";
import type { Registration } from "./useRegistration";

const ALERT_STATUS: Record<SituationSeverity, "success" | "info" | "warning" | "error"> = {
  ok: "success",
  info: "info",
  warning: "warning",
  error: "error",
};

/** One banner for the channel's situation, with the action that fits it. */
export function Banner({
  channel,
  me,
  registration,
}: {
  channel: Schema<"ChannelHealth">;
  me?: Schema<"Me">;
  registration: Registration;
}) {
  const { situation } = channel;
  const refusal = metaSaid(situation.detail, situation.error);
  const { action } = situation;
  // A WhatsApp Business app number is registered through the app: Meta takes no register call
  // for it and the API answers 409, so the button is not offered.
  const app = channel.business_app;
  const registerButton = (variant: "solid" | "outline", label: string) => (
    <GuardedButton
      testId="wa-register-button"
      variant={variant}
      permission={me?.permissions.register}
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
              app ? (
                <Text fontSize="sm" color="fg.muted" data-testid="wa-register-not-offered">
                  {action.label}: not offered for a {app.label} number (the app registered it).
                </Text>
              ) : (
                registerButton("solid", action.label)
              )
            ) : action.kind === "open_whatsapp_manager" || action.kind === "change_display_name" ? (
              <ManagerLink href={channel.links.whatsapp_manager} testId="wa-banner-manager-link">
                {action.label}
              </ManagerLink>
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
