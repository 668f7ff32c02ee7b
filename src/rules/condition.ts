import {
  parseFql,
  validate,
  type Condition as AstNode,
  type Subscription,
} from "@segment/destination-subscriptions";

/** A parsed Segment Actions trigger ("type = \"track\" and event = \"Order Completed\""). */
export type Condition = { source: string; ast: Subscription };

export type ConditionResult =
  { ok: true; condition: Condition } | { ok: false; message: string };

const EXAMPLE =
  'e.g. type = "track" and event = "Order Completed" and properties.total > 100';

/** Parses Segment's trigger syntax with Segment's own parser. */
export function parseCondition(source: string): ConditionResult {
  const ast = parseFql(source);
  // The parser turns a missing value into the literal end-of-stream token "eos".
  if ("error" in ast || (!source.includes("eos") && mentionsEndOfStream(ast))) {
    return {
      ok: false,
      message: `is not valid Segment trigger syntax (${EXAMPLE})`,
    };
  }
  return { ok: true, condition: { source, ast } };
}

function mentionsEndOfStream(node: AstNode): boolean {
  if (node.type === "group") return node.children.some(mentionsEndOfStream);
  return node.value === "eos";
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
