import type { Liquid, Template } from "liquidjs";

/*
 * What a message template reads from its scope, so that recipients with the same
 * values there can share one rendering of it.
 */

/** A variable path as far as it is fixed in the template: `a[b]` is read as `a`. */
export type Path = readonly (string | number)[];

/**
 * A template that may pull in a partial (whose name may even come from the event), with
 * a mention of these tags anywhere: the analysis below does not see into partials.
 */
const MAY_LOAD_PARTIAL = /\b(include|render|layout)\b/;

/**
 * The fixed part of every path the template (parsed from `source`) reads from its
 * scope, outside `event`; undefined when that cannot be known.
 */
export function pathsRead(
  engine: Liquid,
  template: Template[],
  source: string,
): Path[] | undefined {
  if (MAY_LOAD_PARTIAL.test(source)) return undefined;
  try {
    const paths = engine
      .globalVariableSegmentsSync(template, { partials: false })
      .map((segments) => {
        // A computed segment (`a[b.c]`) ends the fixed part; `b.c` is a path of its own.
        const end = segments.findIndex((s) => typeof s === "object");
        return (end === -1 ? segments : segments.slice(0, end)) as Path;
      });
    return paths.filter((path) => path[0] !== "event");
  } catch {
    // What cannot be analysed is rendered for every recipient, as if it read them all.
    return undefined;
  }
}

/**
 * What a recipient's scope holds where the template reads, as text: two recipients
 * with the same key get the same text. A path is followed through own properties as
 * far as it goes, and the value it reaches is taken whole (a list for `.size`, the
 * traits where `.first_name` is missing), so nothing the template could see is left
 * out. The scope's values come from JSON, so JSON tells them apart.
 */
export function keyOf(paths: readonly Path[], scope: object): string {
  return paths
    .map((path) => {
      // A name the scope does not have reads as nothing, whatever follows it.
      let value: unknown = Object.hasOwn(scope, path[0] ?? "")
        ? scope
        : undefined;
      for (const segment of path) {
        if (typeof value !== "object" || value === null) break;
        if (!Object.hasOwn(value, segment)) break;
        value = (value as Record<string | number, unknown>)[segment];
      }
      // Undefined (nothing there) gives no text, which `join` turns into "".
      return JSON.stringify(value);
    })
    .join("\n");
}
