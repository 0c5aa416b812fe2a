import { Button, Flex, Input, NativeSelect } from "@chakra-ui/react";
import { useState, type FormEvent } from "react";

import { OWNERS, ownerIdValid, ownersOf, type Owner, type Update } from "./params";

const LABELS: Record<Owner, string> = { account_id: "Account", waba_id: "WABA", business_id: "Business" };

/**
 * Filters by owner: a tenant's account, a WhatsApp Business Account, a business portfolio
 * (exact ids; several values of one kind match any of them). Each active one is a button that
 * removes it; an id the API would refuse cannot be added.
 */
export function OwnerFilters({ params, update }: { params: URLSearchParams; update: Update }) {
  const [owner, setOwner] = useState<Owner>("waba_id");
  const [text, setText] = useState("");
  const value = text.trim();
  const valid = ownerIdValid(owner, value);
  const add = (event: FormEvent) => {
    event.preventDefault();
    if (!valid) return;
    const current = ownersOf(params, owner);
    if (!current.includes(value)) update({ [owner]: [...current, value] });
    setText("");
  };
  const active = OWNERS.flatMap((name) => ownersOf(params, name).map((id) => [name, id] as const));
  return (
    <Flex as="form" onSubmit={add} gap={2} wrap="wrap" align="center" data-testid="wa-owner-filters">
      <NativeSelect.Root size="sm" width="auto">
        <NativeSelect.Field
          data-testid="wa-owner-kind"
          aria-label="Filter by"
          value={owner}
          onChange={(event) => setOwner(event.target.value as Owner)}
        >
          {OWNERS.map((name) => (
            <option key={name} value={name}>
              {LABELS[name]} id
            </option>
          ))}
        </NativeSelect.Field>
        <NativeSelect.Indicator />
      </NativeSelect.Root>
      <Input
        data-testid="wa-owner-input"
        size="sm"
        maxW="11rem"
        inputMode="numeric"
        placeholder={`${LABELS[owner]} id (digits)`}
        aria-invalid={value !== "" && !valid}
        value={text}
        onChange={(event) => setText(event.target.value)}
      />
      <Button data-testid="wa-owner-add" type="submit" size="sm" variant="outline" disabled={!valid}>
        Filter
      </Button>
      {active.map(([name, id]) => (
        <Button
          key={`${name}-${id}`}
          data-testid={`wa-owner-${name}`}
          data-value={id}
          size="xs"
          variant="subtle"
          aria-label={`Remove the filter ${LABELS[name]} ${id}`}
          onClick={() => update({ [name]: ownersOf(params, name).filter((other) => other !== id) })}
        >
          {LABELS[name]} {id} ✕
        </Button>
      ))}
    </Flex>
  );
}
