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
