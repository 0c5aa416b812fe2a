import { Input } from "@chakra-ui/react";
import { useEffect, useState } from "react";

/**
 * The search box: the URL changes once typing pauses, not on every key. It takes no more than
 * the API's longest search (`maxLength`), so no search is refused for its length.
 */
export function SearchBox({
  value,
  maxLength,
  onSearch,
}: {
  value: string;
  maxLength: number;
  onSearch: (q: string) => void;
}) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text.trim() === value.trim()) return;
    const timer = window.setTimeout(() => onSearch(text.trim()), 300);
    return () => window.clearTimeout(timer);
  }, [text, value, onSearch]);
  return (
    <Input
      data-testid="wa-search"
      size="sm"
      maxW="sm"
      type="search"
      placeholder="Search phone number, display name or account"
      maxLength={maxLength}
      value={text}
      onChange={(event) => setText(event.target.value)}
    />
  );
}
