import { useEffect, useState } from "react";
import { useLocation, useNavigate } from "react-router-dom";

/**
 * Airflow's loader renders a freshly imported bundle through React.lazy, and every later render
 * directly: its first re-render (the first URL change, e.g. a search) would remount the page,
 * dropping the search box's focus and any state. So the first mount renders nothing but a
 * re-render of Airflow's route (a replace-navigation to the same URL), which mounts the page for
 * good; when Airflow rendered it directly already (bundle loaded earlier), this mount shows the
 * page once that navigation has settled.
 */
let settled = false;
const SETTLE_MS = 50;

export function useSettled(): boolean {
  const [ready, setReady] = useState(settled);
  const navigate = useNavigate();
  const location = useLocation();
  // Once, on the first mount only (the navigation changes `location`; a remount ignores the timer).
  useEffect(() => {
    if (settled) return;
    settled = true;
    void Promise.resolve(navigate(location, { replace: true, state: location.state })).then(() => {
      window.setTimeout(() => setReady(true), SETTLE_MS);
    });
  }, []); // eslint-disable-line react-hooks/exhaustive-deps
  return ready;
}
