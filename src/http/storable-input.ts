import type { RequestHandler } from "express";

/*
 * PostgreSQL's text, json and jsonb values hold no NUL (U+0000), and UTF-8 has no
 * unpaired surrogate (U+D800–U+DFFF alone), yet a JSON string may carry either as a
 * `\u` escape, and a URL a NUL as `%00`. Written to the database, one would fail the
 * whole statement, and with it every other call of the request: Nudge would answer 500
 * to a retry that can never succeed. So requests are read with both replaced by U+FFFD,
 * the replacement character, as a UTF-8 decoder replaces bytes it cannot read: the call
 * is kept, and an id holding one maps to the same profile every time, whether it comes
 * in an event or in an admin API path.
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

/** Only a `\u0000` or a surrogate's escape can put either into a parsed value. */
const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/** Whether JSON `text` may hold what `storable` replaces (cheap: most texts hold no `\u`). */
export function mayHoldUnstorable(text: string): boolean {
  return text.includes("\\u") && UNSTORABLE_ESCAPE.test(text);
}

/** The admin API's parsed JSON body, made storable: small, so simply walked. */
export const storableBody: RequestHandler = (req, _res, next) => {
  req.body = storable(req.body);
  next();
};

/**
 * Path and query parameters with a NUL read as U+FFFD. Percent-decoding makes no
 * unpaired surrogate: bytes that are not UTF-8 fail to decode (a path, see the error
 * handler) or decode to U+FFFD (a query).
 */
export const storableUrl: RequestHandler = (req, _res, next) => {
  if (req.url.includes("%00")) req.url = req.url.replaceAll("%00", "%EF%BF%BD");
  next();
};

function storableText(text: string): string {
  return (
    text.includes("\0") ? text.replaceAll("\0", "\uFFFD") : text
  ).toWellFormed();
}
