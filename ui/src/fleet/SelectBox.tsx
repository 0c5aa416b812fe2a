import { Box, Checkbox } from "@chakra-ui/react";

/** A selection tick box in the fleet table; a click on it never opens the row's channel. */
export function SelectBox({
  checked,
  onChange,
  label,
  testId,
}: {
  checked: boolean | "indeterminate";
  onChange: (on: boolean) => void;
  label: string;
  testId: string;
}) {
  return (
    <Box onClick={(event) => event.stopPropagation()}>
      <Checkbox.Root
        size="sm"
        checked={checked}
        onCheckedChange={(change) => onChange(change.checked === true)}
        aria-label={label}
        data-testid={testId}
      >
        <Checkbox.HiddenInput />
        <Checkbox.Control />
      </Checkbox.Root>
    </Box>
  );
}
