import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseCondition, type Condition } from "./condition.ts";
import { parseDuration } from "./duration.ts";
import {
  createConditionIndex,
  type ConditionIndex,
} from "./condition-index.ts";
import { compileMessage, type CompiledMessage } from "./message-template.ts";
import { applyPreset } from "./presets.ts";
import { countsTowardCaps, keepsQuietHours } from "./rule-defaults.ts";
import { autoWinnerOf, type AutoWinner } from "./auto-winner.ts";
import {
  describePath,
  referenceProblems,
  sizeProblems,
  timingProblems,
} from "./rule-book-problems.ts";
import {
  rulesFileSchema,
  type CollectionSpec,
  type RuleSpec,
  type Settings,
} from "./rules-file.schema.ts";

export type Collection = Omit<CollectionSpec, "add" | "remove"> & {
  add: Condition;
  remove: Condition | undefined;
};

/** Who a rule is for: the event's own user, the savers of an item, or a trait segment. */
export type Audience =
  | { kind: "user" }
  | { kind: "collection"; collection: string; key: string }
  | { kind: "where"; condition: Condition };

export type Rule = Omit<
  RuleSpec,
  "trigger" | "audience" | "delivery" | "autoWinner"
> & {
  /** Content hash of this rule alone: what a notification records it came from. */
  version: string;
  /** The condition events set the rule off by, or "manual": only through the API. */
  trigger: Condition | "manual";
  audience: Audience;
  delivery: Omit<RuleSpec["delivery"], "cancelIf" | "quietHours" | "caps"> & {
    cancelIf: Condition | undefined;
    quietHours: boolean;
    /** Whether the settings' frequency cap stops and counts this rule's pushes. */
    caps: boolean;
  };
  /** The message templates, parsed once for this version of the rule. */
  compiledMessage: CompiledMessage;
  /** The test that promotes a winning variant, with its defaults worked out. */
  autoWinner: AutoWinner | undefined;
};

/** A rules document as written (a parsed rules file), before defaults are filled in. */
export type RulesDocument = Readonly<Record<string, unknown>>;

/** A validated, compiled rules file. Immutable: a reload builds a new one. */
export type RuleBook = Readonly<{
  /** Content hash of the source, recorded on what the rules produce. */
  version: string;
  /** The document the book was compiled from, as written: what the admin API shows and edits. */
  document: RulesDocument;
  /** The settings in force, a preset's caps and quiet hours filled in. */
  settings: Settings;
  collections: readonly Collection[];
  rules: readonly Rule[];
  /** Enabled rules by trigger, for matching events. */
  triggers: ConditionIndex<Rule>;
  /** Rules by `delivery.cancelIf`, for cancelling delayed messages. */
  cancellations: ConditionIndex<Rule>;
  /** Rules that count conversions, by the event name that converts. */
  conversions: ReadonlyMap<string, readonly ConversionRule[]>;
}>;

export type ConversionRule = {
  ruleId: string;
  withinMs: number;
  after: "open" | "send";
};

export class RulesFileError extends Error {
  readonly code = "invalid_rules";
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`${source} is not a valid rules file:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

/** An empty rule book: no rules, no collections, default settings. */
export function emptyRuleBook(): RuleBook {
  return compileRuleBook({}, "(none)");
}

export async function loadRuleBook(file: string): Promise<RuleBook> {
  return compileRuleBook(await readRulesDocument(file), file);
}

/** Reads and parses a rules file without validating it; unreadable or non-JSON files are RulesFileErrors. */
export async function readRulesDocument(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RulesFileError(file, [`cannot be read: ${reason}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RulesFileError(file, [`is not valid JSON: ${reason}`]);
  }
  return json;
}

/**
 * Validates a rules document and compiles its conditions and templates. Every problem
 * of shape and syntax is reported at once, each naming the rule or collection and the
 * field; references between parts (categories, collections, unique ids) are checked
 * once the shape is right.
 */
export function compileRuleBook(document: unknown, source: string): RuleBook {
  const parsed = rulesFileSchema.safeParse(document);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map(
        (issue) => `${describePath(document, issue.path)}: ${issue.message}`,
      );
  problems.push(...referenceProblems(document));
  if (parsed.success)
    problems.push(
      ...timingProblems(document, parsed.data),
      ...sizeProblems(parsed.data),
    );
  if (!parsed.success || problems.length > 0)
    throw new RulesFileError(source, problems);
  const file = parsed.data;
  const rules = file.rules.map(compileRule);
  return Object.freeze({
    version: contentHash(file),
    document: structuredClone(document as RulesDocument),
    settings: applyPreset(file.settings),
    collections: file.collections.map((spec) => ({
      ...spec,
      add: conditionOf(spec.add),
      remove: spec.remove === undefined ? undefined : conditionOf(spec.remove),
    })),
    rules,
    triggers: createConditionIndex(
      rules.filter((rule) => rule.enabled),
      (rule) => (rule.trigger === "manual" ? undefined : rule.trigger),
    ),
    cancellations: createConditionIndex(
      rules,
      (rule) => rule.delivery.cancelIf,
    ),
    conversions: conversionsByEvent(rules),
  });
}

function conversionsByEvent(
  rules: readonly Rule[],
): Map<string, ConversionRule[]> {
  const byEvent = new Map<string, ConversionRule[]>();
  for (const { id, conversion } of rules) {
    if (conversion === undefined) continue;
    const withinMs = parseDuration(conversion.within);
    if (withinMs === undefined) continue;
    const list = byEvent.get(conversion.event) ?? [];
    list.push({ ruleId: id, withinMs, after: conversion.after });
    byEvent.set(conversion.event, list);
  }
  return byEvent;
}

function compileRule(spec: RuleSpec): Rule {
  const { audience, delivery } = spec;
  return {
    ...spec,
    version: contentHash(spec),
    trigger: spec.trigger === "manual" ? "manual" : conditionOf(spec.trigger),
    audience:
      audience === undefined
        ? { kind: "user" }
        : "where" in audience
          ? { kind: "where", condition: conditionOf(audience.where) }
          : {
              kind: "collection",
              collection: audience.collection,
              key: audience.key,
            },
    delivery: {
      ...delivery,
      quietHours: keepsQuietHours(spec),
      caps: countsTowardCaps(spec),
      cancelIf:
        delivery.cancelIf === undefined
          ? undefined
          : conditionOf(delivery.cancelIf),
    },
    compiledMessage: compileMessage(spec.message, spec.variants),
    autoWinner: autoWinnerOf(spec),
  };
}

/**
 * A short hash of a JSON value. Keys are sorted first, so the same content written in
 * another key order (by hand, by an API client, by a database) has the same version.
 */
export function contentHash(value: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify(value, sortedKeys))
    .digest("hex")
    .slice(0, 12);
}

function sortedKeys(_key: string, value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return value;
  const record = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((key) => [key, record[key]]),
  );
}

/** Compiles a condition the schema has already checked. */
function conditionOf(source: string): Condition {
  const result = parseCondition(source);
  if (!result.ok) throw new Error(`unchecked condition: ${source}`);
  return result.condition;
}
