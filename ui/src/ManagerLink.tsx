import { Link } from "@chakra-ui/react";
import type { ReactNode } from "react";

/** WhatsApp Manager (outside Airflow): a new tab, without opener. */
export function ManagerLink({ href, children, testId }: { href: string; children: ReactNode; testId: string }) {
  return (
    <Link href={href} target="_blank" rel="noopener noreferrer" color="fg.info" data-testid={testId}>
      {children} ↗
    </Link>
  );
}
