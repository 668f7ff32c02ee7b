import type { RulesDocument } from "./rule-book.ts";

/*
 * Edits of a rules document as written, for the admin API. They work on the raw JSON,
 * not on compiled rules, so what an operator wrote (and left to defaults) is kept as
 * it was; the caller validates the result with compileRuleBook.
 */

/** One rule as written in a rules document. */
export type RuleDocument = Readonly<Record<string, unknown>>;

/** The rule with this id, as written. */
export function findRule(
  document: RulesDocument,
  id: string,
): RuleDocument | undefined {
  return rulesOf(document).find(
    (rule): rule is RuleDocument => idOf(rule) === id,
  );
}

/**
 * Replaces the rule with the same id where it stands, or appends it. A rule without a
 * string id is appended, so that validation reports the missing id.
 */
export function putRule(
  document: RulesDocument,
  rule: RuleDocument,
): { document: RulesDocument; created: boolean } {
  const rules = rulesOf(document);
  const id = idOf(rule);
  const index =
    id === undefined
      ? -1
      : rules.findIndex((existing) => idOf(existing) === id);
  const copy = structuredClone(rule);
  return {
    document: {
      ...document,
      rules: index === -1 ? [...rules, copy] : rules.with(index, copy),
    },
    created: index === -1,
  };
}

/** The document without the rule, or undefined when it has no such rule. */
export function removeRule(
  document: RulesDocument,
  id: string,
): RulesDocument | undefined {
  const rules = rulesOf(document);
  const kept = rules.filter((rule) => idOf(rule) !== id);
  return kept.length === rules.length
    ? undefined
    : { ...document, rules: kept };
}

function rulesOf(document: RulesDocument): readonly unknown[] {
  return Array.isArray(document.rules) ? document.rules : [];
}

function idOf(rule: unknown): string | undefined {
  if (typeof rule !== "object" || rule === null || Array.isArray(rule))
    return undefined;
  const { id } = rule as { id?: unknown };
  return typeof id === "string" ? id : undefined;
}
