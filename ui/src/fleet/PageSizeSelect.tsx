import { HStack, NativeSelect, Text } from "@chakra-ui/react";

import type { Schema } from "../api";
import { pageSizeOf, type Update } from "./params";

/** Rows per page, from the sizes the API offers; the URL keeps it (none for the default size). */
export function PageSizeSelect({
  paging,
  params,
  update,
}: {
  paging: Schema<"FleetPaging">;
  params: URLSearchParams;
  update: Update;
}) {
  const size = pageSizeOf(params, paging);
  return (
    <HStack gap={2}>
      <Text fontSize="sm" color="fg.muted" whiteSpace="nowrap">
        Rows per page
      </Text>
      <NativeSelect.Root size="sm" width="auto">
        <NativeSelect.Field
          data-testid="wa-page-size"
          aria-label="Rows per page"
          value={String(size)}
          onChange={(event) => {
            const next = Number(event.target.value);
            update({ page_size: next === paging.page_size ? null : String(next) });
          }}
        >
          {paging.page_sizes.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </NativeSelect.Field>
        <NativeSelect.Indicator />
      </NativeSelect.Root>
    </HStack>
  );
}
