import {
  parseFql,
  validate,
  type Subscription,
} from "@segment/destination-subscriptions";
import { lex, types as TokenType } from "@segment/fql-ts";

/** A parsed Segment Actions trigger ("type = \"track\" and event = \"Order Completed\""). */
export type Condition = { source: string; ast: Subscription };

export type ConditionResult =
  { ok: true; condition: Condition } | { ok: false; message: string };

const EXAMPLE =
  'e.g. type = "track" and event = "Order Completed" and properties.total > 100';

/**
 * Parses Segment's trigger syntax with Segment's own parser, after checking that the
 * whole text is a well-formed condition: the parser reads what it can and drops the
 * rest, so `event = "A" "B"` would quietly mean `event = "A"`, `event = "A" and`
 * would lose its dangling "and", and `event = = ` would compare with "=".
 */
export function parseCondition(source: string): ConditionResult {
  const ast = parseFql(source);
  if ("error" in ast || !isWellFormed(source)) {
    return {
      ok: false,
      message: `is not valid Segment trigger syntax (${EXAMPLE})`,
    };
  }
  return { ok: true, condition: { source, ast } };
}

/**
 * Whether the text's tokens form one condition, to its end:
 *   condition  = term { ("and" | "or") term }
 *   term       = "!" term | "(" condition ")" | function | path operator value
 *   function   = ("contains" | "match") "(" path "," value ")"
 *   path       = ident { "." ident }
 *   value      = string | number | null | ident (true, false)
 */
function isWellFormed(source: string): boolean {
  const { tokens, error } = lex(source);
  if (error !== undefined) return false;
  let at = 0;
  /** Moves past the next token when it is of this type (and value). */
  const take = (type: TokenType, value?: string) => {
    const token = tokens[at];
    if (token?.type !== type || (value !== undefined && token.value !== value))
      return false;
    at++;
    return true;
  };
  const value = () =>
    take(TokenType.String) ||
    take(TokenType.Number) ||
    take(TokenType.Null) ||
    take(TokenType.Ident);
  const path = () => {
    if (!take(TokenType.Ident)) return false;
    while (take(TokenType.Dot)) if (!take(TokenType.Ident)) return false;
    return true;
  };
  const term = (): boolean => {
    if (take(TokenType.Operator, "!")) return term();
    if (take(TokenType.ParenLeft))
      return condition() && take(TokenType.ParenRight);
    const name = tokens[at]?.value;
    if (
      (name === "contains" || name === "match") &&
      tokens[at + 1]?.type === TokenType.ParenLeft
    ) {
      at += 2;
      return (
        path() && take(TokenType.Comma) && value() && take(TokenType.ParenRight)
      );
    }
    return path() && take(TokenType.Operator) && value();
  };
  const condition = (): boolean => {
    if (!term()) return false;
    while (take(TokenType.Conditional)) if (!term()) return false;
    return true;
  };
  return condition() && take(TokenType.EOS);
}

/** Evaluates a condition against a Segment event payload. */
export function matchesCondition(
  condition: Condition,
  payload: Record<string, unknown>,
): boolean {
  return validate(condition.ast, payload);
}

/** Reads a dotted path ("properties.product_id") from a payload. */
export function readPath(payload: unknown, path: string): unknown {
  let value = payload;
  for (const part of path.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
