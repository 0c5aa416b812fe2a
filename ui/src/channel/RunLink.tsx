import { AppLink } from "../AppLink";

/** A row's words, linked to the Airflow run the row came from while Airflow still has it. */
export function RunLink({ to, children }: { to: string | null | undefined; children: string }) {
  return to ? (
    <AppLink to={to} testId="wa-run-link">
      {children}
    </AppLink>
  ) : (
    children
  );
}
