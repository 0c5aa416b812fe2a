// Meta's refusals as the page words them.
import type { Schema } from "./api";

/** "code 2388001/-": Meta's error numbers, as support asks for them. */
export const errorCode = (error: { code: number | null; subcode: number | null }): string =>
  `code ${error.code ?? "?"}${error.subcode ? `/${error.subcode}` : ""}`;

/** Meta's message as the API quotes it inside a sentence: without its own closing period. */
const withoutPeriod = (message: string): string => message.trim().replace(/\.+$/, "");

/**
 * Meta's refusal, "message (code …)", for a line of its own, or null when there is none or
 * `text` already quotes it: a situation's detail carries Meta's answer, and saying it twice
 * in one box reads as two refusals.
 */
export const metaSaid = (text: string, error: Schema<"GraphError"> | null | undefined): string | null =>
  error?.message && !text.includes(withoutPeriod(error.message)) ? `${error.message} (${errorCode(error)})` : null;
