import { Button, HStack, Text } from "@chakra-ui/react";
import type { ReactNode } from "react";

import type { Schema } from "../api";

/** Why a button cannot be used now although the role may (e.g. until Meta's limit reopens). */
export type Held = { reason: ReactNode; title: string };

/**
 * A button the user's role may not use, or that is held for now: disabled, with the reason as
 * tooltip and in words (`<testId>-held` for a hold).
 */
export function GuardedButton({
  testId,
  permission,
  held,
  busy,
  onClick,
  children,
  variant = "solid",
}: {
  testId: string;
  permission?: Schema<"Permission">;
  held?: Held;
  busy: boolean;
  onClick: () => void;
  children: string;
  variant?: "solid" | "outline";
}) {
  const refused = permission !== undefined && !permission.allowed;
  const reason = refused ? (permission.reason ?? "your role does not allow this") : undefined;
  return (
    <HStack gap={2} wrap="wrap">
      <Button
        data-testid={testId}
        size="sm"
        variant={variant}
        disabled={refused || held !== undefined || busy}
        title={reason ?? held?.title}
        loading={busy}
        onClick={onClick}
      >
        {children}
      </Button>
      {reason ? (
        <Text fontSize="xs" color="fg.muted">
          Not available: {reason}
        </Text>
      ) : (
        held && (
          <Text fontSize="xs" color="fg.muted" data-testid={`${testId}-held`}>
            Not available: {held.reason}
          </Text>
        )
      )}
    </HStack>
  );
}
