import { useState } from "react";

/**
 * The rows a person ticked, or "all that match the filter": kept while the filter stays the same
 * (`scope`), dropped when it changes (the rows ticked would no longer be the ones shown).
 */
export type Selection = {
  /** Channel keys (`account-inbox`) ticked one by one. */
  keys: ReadonlySet<string>;
  /** Every channel the filter matches, on every page. */
  all: boolean;
  has: (key: string) => boolean;
  toggle: (key: string) => void;
  /** Tick or untick every row of the page. */
  setPage: (keys: string[], on: boolean) => void;
  selectAll: () => void;
  clear: () => void;
};

type State = { scope: string; keys: ReadonlySet<string>; all: boolean };

export function useSelection(scope: string): Selection {
  const [state, setState] = useState<State>({ scope, keys: new Set(), all: false });
  const current: State = state.scope === scope ? state : { scope, keys: new Set(), all: false };
  const change = (next: (keys: Set<string>) => void) => {
    const keys = new Set(current.keys);
    next(keys);
    setState({ scope, keys, all: false });
  };
  return {
    keys: current.keys,
    all: current.all,
    has: (key) => current.all || current.keys.has(key),
    toggle: (key) => change((keys) => (keys.has(key) ? keys.delete(key) : keys.add(key))),
    setPage: (page, on) => change((keys) => page.forEach((key) => (on ? keys.add(key) : keys.delete(key)))),
    selectAll: () => setState({ scope, keys: new Set(), all: true }),
    clear: () => setState({ scope, keys: new Set(), all: false }),
  };
}
