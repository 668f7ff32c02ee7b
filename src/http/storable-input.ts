import type { RequestHandler } from "express";
import { AppError, ErrorCode } from "../errors.ts";
import { MAX_NESTING } from "../ingest/input-limits.ts";
import { nestedTooDeep, storable } from "../ingest/storable-value.ts";

/*
 * PostgreSQL's text, json and jsonb values hold no NUL (U+0000), and UTF-8 has no
 * unpaired surrogate (U+D800–U+DFFF alone), yet a JSON string may carry either as a
 * `\u` escape, and a URL a NUL as `%00`. Written to the database, one would fail the
 * whole statement, and with it every other call of the request: Nudge would answer 500
 * to a retry that can never succeed. So requests are read with both replaced by U+FFFD,
 * the replacement character, as a UTF-8 decoder replaces bytes it cannot read: the call
 * is kept, and an id holding one maps to the same profile every time, whether it comes
 * in an event or in an admin API path.
 *
 * A call nested deeper than `MAX_NESTING` would fail the request too, in JSON.stringify
 * or PostgreSQL's JSON parser (both recursive): it is rejected alone, as invalid.
 */

/** Only a `\u0000` or a surrogate's escape can put either into a parsed value. */
const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/** Whether JSON `text` may hold what `storable` replaces (cheap: most texts hold no `\u`). */
function mayHoldUnstorable(text: string): boolean {
  return text.includes("\\u") && UNSTORABLE_ESCAPE.test(text);
}

/** A request's calls as Nudge stores them: see `storableCalls`. */
export type StorableCalls = {
  inputs: readonly unknown[];
  /** The tracking API's batch context, merged under each call's own. */
  context: Record<string, unknown> | undefined;
  /** The positions of calls nested too deep to store, to be rejected unread. */
  tooDeep?: ReadonlySet<number>;
};

/**
 * The calls of a request whose body is `text`, with what PostgreSQL cannot store
 * replaced, and those nested deeper than `MAX_NESTING` (a batch context that does
 * makes every call do) set apart, so that the others are stored. Most bodies need
 * neither and are taken as parsed.
 */
export function storableCalls(
  text: string,
  calls: readonly unknown[],
  context?: Record<string, unknown>,
): StorableCalls {
  const deep = mayNestTooDeep(text);
  const repair = mayHoldUnstorable(text);
  if (!deep && !repair) return { inputs: calls, context };
  const everyCall = deep && context !== undefined && nestedTooDeep(context);
  const tooDeep = new Set<number>();
  const inputs = calls.map((call, index) => {
    if (everyCall || (deep && nestedTooDeep(call))) {
      tooDeep.add(index);
      return call;
    }
    return repair ? storable(call) : call;
  });
  const stored =
    everyCall || !repair || context === undefined
      ? context
      : (storable(context) as Record<string, unknown>);
  return { inputs, context: stored, tooDeep };
}

/** The admin API's parsed JSON body, made storable: small, so simply walked. */
export const storableBody: RequestHandler = (req, _res, next) => {
  if (nestedTooDeep(req.body))
    throw new AppError(
      ErrorCode.invalidBody,
      400,
      `The request body nests objects and arrays deeper than ${String(MAX_NESTING)} levels.`,
    );
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

/**
 * Whether JSON `text` nests deeper than `MAX_NESTING` anywhere, so that only such a
 * body pays for `nestedTooDeep`. Strings, most of a body, are skipped with indexOf:
 * about a third of what parsing the body costs.
 */
function mayNestTooDeep(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = closingQuote(text, i);
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > MAX_NESTING) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** Where the string opened at `start` ends: the next quote no backslash escapes. */
function closingQuote(text: string, start: number): number {
  let end = text.indexOf('"', start + 1);
  while (end !== -1) {
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
  return text.length;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
