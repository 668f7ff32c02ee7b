import { autoWinnerProblems } from "./auto-winner.ts";
import { windowConflicts } from "./delivery-window.ts";
import { applyPreset } from "./presets.ts";
import { keepsQuietHours } from "./rule-defaults.ts";
import { staticSizeProblems } from "./static-size.ts";
import type { RulesFile } from "./rules-file.schema.ts";

/*
 * What the schema alone cannot say is wrong with a rules file: references between its
 * parts, timing that could never send, and messages too large to send whatever they
 * render. Each problem names the rule or collection.
 */

/** Messages whose text outside any Liquid tag is over a platform's limit already. */
export function sizeProblems(file: RulesFile): string[] {
  return file.rules.flatMap((spec, index) =>
    staticSizeProblems(spec).map(
      (problem) => `rules[${index}] "${spec.id}".${problem}`,
    ),
  );
}

/**
 * Delivery windows that lie within the quiet hours in force (a preset's, unless the
 * settings write their own) for a rule that keeps them: its pushes could never go.
 */
export function timingProblems(document: unknown, file: RulesFile): string[] {
  const rules = file.rules.map((spec) => ({
    id: spec.id,
    delivery: {
      window: spec.delivery.window,
      quietHours: keepsQuietHours(spec),
    },
  }));
  return windowConflicts(applyPreset(file.settings), rules).map(
    ({ path, message }) => `${describePath(document, path)}: ${message}`,
  );
}

/**
 * Problems between parts of the file: undeclared categories and collections, repeated
 * ids. Read from the raw document so they are reported together with shape errors.
 */
export function referenceProblems(document: unknown): string[] {
  const file = asRecord(document);
  const rules = Array.isArray(file.rules) ? file.rules.map(asRecord) : [];
  const collections = Array.isArray(file.collections)
    ? file.collections
        .map((c) => asRecord(c).name)
        .filter((name) => typeof name === "string")
    : [];
  const categories = Object.keys(asRecord(asRecord(file.settings).categories));
  const problems: string[] = [];
  rules.forEach((rule, index) => {
    const where = `rules[${index}]${typeof rule.id === "string" ? ` "${rule.id}"` : ""}`;
    if (
      typeof rule.category === "string" &&
      !categories.includes(rule.category)
    ) {
      problems.push(
        `${where}.category: "${rule.category}" is not declared in settings.categories (declared: ${listOrNone(categories)})`,
      );
    }
    const { collection } = asRecord(rule.audience);
    if (typeof collection === "string" && !collections.includes(collection)) {
      problems.push(
        `${where}.audience.collection: "${collection}" is not declared in collections (declared: ${listOrNone(collections)})`,
      );
    }
    problems.push(...autoWinnerProblems(rule, where));
  });
  const ids = rules
    .map((rule) => rule.id)
    .filter((id) => typeof id === "string");
  for (const id of duplicates(ids))
    problems.push(`rules: id "${id}" is used more than once`);
  for (const name of duplicates(collections)) {
    problems.push(`collections: name "${name}" is used more than once`);
  }
  return problems;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** "rules[0].trigger" becomes 'rules[0] "wishlist-on-sale".trigger'. */
export function describePath(
  document: unknown,
  path: readonly PropertyKey[],
): string {
  let text = "";
  let node: unknown = document;
  for (const key of path) {
    node =
      typeof node === "object" && node !== null
        ? (node as Record<PropertyKey, unknown>)[key]
        : undefined;
    if (typeof key === "number") {
      const label = labelOf(node);
      text += `[${key}]${label === undefined ? "" : ` "${label}"`}`;
    } else {
      text += text === "" ? String(key) : `.${String(key)}`;
    }
  }
  return text === "" ? "(file)" : text;
}

function labelOf(node: unknown): string | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const { id, name } = node as { id?: unknown; name?: unknown };
  if (typeof id === "string") return id;
  return typeof name === "string" ? name : undefined;
}

function duplicates(values: readonly string[]): string[] {
  return [
    ...new Set(
      values.filter((value, index) => values.indexOf(value) !== index),
    ),
  ];
}

function listOrNone(values: readonly string[]): string {
  return values.length === 0 ? "none" : values.join(", ");
}
