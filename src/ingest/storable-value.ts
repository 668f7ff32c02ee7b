import { MAX_NESTING } from "./input-limits.ts";

/*
 * Values as PostgreSQL can store them: its text, json and jsonb hold no NUL (U+0000),
 * and UTF-8 has no unpaired surrogate (U+D800–U+DFFF alone), yet a JSON string may
 * carry either as a `\u` escape. Both are replaced by U+FFFD, the replacement
 * character. src/http/storable-input.ts explains why, and applies this to requests;
 * ingest applies it to JSON that a call carries as text (a Web Push subscription).
 */

/** `value` with every string and key made storable. */
export function storable(value: unknown): unknown {
  if (typeof value === "string") return storableText(value);
  if (Array.isArray(value)) return value.map(storable);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      storableText(key),
      storable(inner),
    ]),
  );
}

/** Whether a parsed value nests deeper than `MAX_NESTING`, walked without recursion. */
export function nestedTooDeep(value: unknown): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [inner, depth] = next;
    if (typeof inner !== "object" || inner === null) continue;
    if (depth + 1 > MAX_NESTING) return true;
    for (const child of Object.values(inner)) pending.push([child, depth + 1]);
  }
  return false;
}

/** `text` with a NUL or an unpaired surrogate replaced by U+FFFD. */
export function storableText(text: string): string {
  return (
    text.includes("\0") ? text.replaceAll("\0", "\uFFFD") : text
  ).toWellFormed();
}
