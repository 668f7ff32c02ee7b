/*
 * Most message templates are text with a few variables in them ("Hi {{
 * profile.traits.first_name | default: "there" }}"). Liquid renders each through its
 * general machinery, which allocates a context, generators and tokens per render: a
 * fan-out renders a greeting per recipient, and that was the largest share of what
 * planning allocated. Such a template is rendered here directly instead, exactly as
 * Liquid renders it (a test compares the two on random values); any other template,
 * and any value this does not print the way Liquid does, is left to Liquid.
 */

/** Renders a plain template for a scope; undefined when Liquid must render it. */
export type PlainRenderer = (scope: object) => string | undefined;

type Part = string | { path: readonly string[]; fallback: string | undefined };

/** `{{ a.b.c }}` or `{{ a.b.c | default: "text" }}`, without trim markers. */
const OUTPUT =
  /^\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*(?:\|\s*default\s*:\s*(?:"([^"\\]*)"|'([^'\\]*)')\s*)?$/;

/**
 * Names Liquid reads otherwise: literals (`{{ true }}` prints "true") and the segments
 * it computes (`list.size`, `list.first`, `list.last`).
 */
const NOT_PLAIN = new Set([
  "true",
  "false",
  "nil",
  "null",
  "empty",
  "blank",
  "size",
  "first",
  "last",
]);

/** The plain renderer of a template, or undefined when it is not plain. */
export function plainRenderer(source: string): PlainRenderer | undefined {
  if (source.includes("{%")) return undefined;
  const parts: Part[] = [];
  const pieces = source.split(/\{\{(.*?)\}\}/s);
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] ?? "";
    if (i % 2 === 0) {
      if (piece.includes("{{")) return undefined;
      if (piece !== "") parts.push(piece);
      continue;
    }
    const output = OUTPUT.exec(piece);
    if (output === null) return undefined;
    const path = (output[1] ?? "").split(".");
    if (path.some((name) => NOT_PLAIN.has(name))) return undefined;
    parts.push({ path, fallback: output[2] ?? output[3] });
  }
  return (scope) => {
    let text = "";
    for (const part of parts) {
      if (typeof part === "string") {
        text += part;
        continue;
      }
      const shown = printed(valueAt(scope, part.path), part.fallback);
      if (shown === undefined) return undefined;
      text += shown;
    }
    return text;
  };
}

/** What Liquid reads at a path with `ownPropertyOnly`: own properties only. */
function valueAt(scope: object, path: readonly string[]): unknown {
  let value: unknown = scope;
  for (const name of path) {
    if (value === null || value === undefined) return value;
    value = Object.hasOwn(value, name)
      ? (value as Record<string, unknown>)[name]
      : undefined;
  }
  return value;
}

/**
 * The text Liquid prints for a value, after `default:` when given (which replaces
 * nil, false and empty text); undefined for a list or an object, left to Liquid.
 */
function printed(
  value: unknown,
  fallback: string | undefined,
): string | undefined {
  if (
    fallback !== undefined &&
    (value === null || value === undefined || value === false || value === "")
  )
    return fallback;
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean")
    return String(value);
  return undefined;
}
