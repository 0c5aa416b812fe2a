import { Table } from "@chakra-ui/react";
import type { ReactNode } from "react";

export type RowColumn<Row> = { header: string; cell: (row: Row) => ReactNode };

/** A small table of stored rows, newest first (register attempts, health checks). */
export function RowsTable<Row>({
  rows,
  columns,
  rowKey,
  testId,
}: {
  rows: Row[];
  columns: RowColumn<Row>[];
  rowKey: (row: Row, index: number) => string;
  testId: string;
}) {
  return (
    <Table.Root size="sm" variant="outline">
      <Table.Header>
        <Table.Row>
          {columns.map((column) => (
            <Table.ColumnHeader key={column.header}>{column.header}</Table.ColumnHeader>
          ))}
        </Table.Row>
      </Table.Header>
      <Table.Body>
        {rows.map((row, index) => (
          <Table.Row key={rowKey(row, index)} data-testid={testId}>
            {columns.map((column) => (
              <Table.Cell key={column.header}>{column.cell(row)}</Table.Cell>
            ))}
          </Table.Row>
        ))}
      </Table.Body>
    </Table.Root>
  );
}
