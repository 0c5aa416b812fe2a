import { Button, HStack, Text } from "@chakra-ui/react";

import type { Schema } from "../api";

/** A button the user's role may not use: disabled, with the reason as tooltip and in words. */
export function GuardedButton({
  testId,
  permission,
  busy,
  onClick,
  children,
  variant = "solid",
}: {
  testId: string;
  permission?: Schema<"Permission">;
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
