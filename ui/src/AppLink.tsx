// Links to Airflow's own pages go through Airflow's router: this page is part of Airflow's
// document, so a run link is an in-app navigation.
import { Link } from "@chakra-ui/react";
import type { ReactNode } from "react";
import { Link as RouterLink } from "react-router-dom";

export function AppLink({ to, children, testId }: { to: string; children: ReactNode; testId?: string }) {
  return (
    <Link asChild color="fg.info" data-testid={testId}>
      <RouterLink to={to}>{children}</RouterLink>
    </Link>
  );
}
