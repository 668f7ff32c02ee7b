import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseCondition, type Condition } from "./condition.ts";
import {
  compileMessage,
  parseTemplate,
  type CompiledMessage,
} from "./message-template.ts";
import {
  rulesFileSchema,
  type CollectionSpec,
  type RuleSpec,
  type RulesFile,
  type Settings,
} from "./rules-file.schema.ts";

export type Collection = Omit<CollectionSpec, "add" | "remove"> & {
  add: Condition;
  remove: Condition | undefined;
};

export type Rule = Omit<RuleSpec, "trigger"> & {
  trigger: Condition;
  /** The message templates, parsed once for this version of the rule. */
  compiledMessage: CompiledMessage;
};

/** A validated, compiled rules file. Immutable: a reload builds a new one. */
export type RuleBook = Readonly<{
  /** Content hash of the source, recorded on what the rules produce. */
  version: string;
  settings: Settings;
  collections: readonly Collection[];
  rules: readonly Rule[];
}>;

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
  return compileRuleBook(json, file);
}

/**
 * Validates a rules document and compiles its conditions. Every problem is reported
 * at once, each naming the rule or collection and the field, so a broken file is
 * fixed in one pass.
 */
export function compileRuleBook(document: unknown, source: string): RuleBook {
  const parsed = rulesFileSchema.safeParse(document);
  if (!parsed.success) {
    throw new RulesFileError(
      source,
      parsed.error.issues.map(
        (issue) => `${describePath(document, issue.path)}: ${issue.message}`,
      ),
    );
  }
  const file = parsed.data;
  const problems: string[] = [];
  const compile = (where: string, text: string): Condition => {
    const result = parseCondition(text);
    if (result.ok) return result.condition;
    problems.push(`${where}: ${result.message}`);
    return {
      source: text,
      ast: { type: "group", operator: "and", children: [] },
    };
  };

  const collections = file.collections.map((spec, index) => {
    const where = `collections[${index}] "${spec.name}"`;
    return {
      ...spec,
      add: compile(`${where}.add`, spec.add),
      remove:
        spec.remove === undefined
          ? undefined
          : compile(`${where}.remove`, spec.remove),
    };
  });
  const rules = file.rules.map((spec, index) => {
    const where = `rules[${index}] "${spec.id}"`;
    checkReferences(file, spec, where, problems);
    if (spec.delivery.cancelIf !== undefined)
      compile(`${where}.delivery.cancelIf`, spec.delivery.cancelIf);
    if (spec.audience !== undefined && "where" in spec.audience) {
      compile(`${where}.audience.where`, spec.audience.where);
    }
    checkTemplates(spec, where, problems);
    return {
      ...spec,
      trigger: compile(`${where}.trigger`, spec.trigger),
      compiledMessage: compileMessage(spec.message, spec.variants),
    };
  });
  problems.push(
    ...duplicates(file.rules.map((rule) => rule.id)).map(
      (id) => `rules: id "${id}" is used more than once`,
    ),
    ...duplicates(file.collections.map((c) => c.name)).map(
      (name) => `collections: name "${name}" is used more than once`,
    ),
  );
  if (problems.length > 0) throw new RulesFileError(source, problems);

  return Object.freeze({
    version: createHash("sha256")
      .update(JSON.stringify(file))
      .digest("hex")
      .slice(0, 12),
    settings: file.settings,
    collections,
    rules,
  });
}

function checkReferences(
  file: RulesFile,
  rule: RuleSpec,
  where: string,
  problems: string[],
): void {
  if (
    rule.category !== undefined &&
    !(rule.category in file.settings.categories)
  ) {
    problems.push(
      `${where}.category: "${rule.category}" is not declared in settings.categories (declared: ${listOrNone(Object.keys(file.settings.categories))})`,
    );
  }
  const audience = rule.audience;
  if (audience !== undefined && "collection" in audience) {
    const names = file.collections.map((c) => c.name);
    if (!names.includes(audience.collection)) {
      problems.push(
        `${where}.audience.collection: "${audience.collection}" is not declared in collections (declared: ${listOrNone(names)})`,
      );
    }
  }
}

/** Parses every template of a rule so a Liquid syntax error is reported at load time. */
function checkTemplates(
  rule: RuleSpec,
  where: string,
  problems: string[],
): void {
  const check = (path: string, fields: Record<string, unknown> | undefined) => {
    for (const [name, value] of Object.entries(fields ?? {})) {
      if (typeof value === "string") {
        try {
          parseTemplate(value);
        } catch (error) {
          const reason =
            error instanceof Error
              ? error.message.split("\n")[0]
              : String(error);
          problems.push(
            `${where}.${path}${name}: is not a valid Liquid template: ${reason}`,
          );
        }
      } else if (typeof value === "object" && value !== null) {
        check(`${path}${name}.`, value as Record<string, unknown>);
      }
    }
  };
  check("message.", rule.message);
  rule.variants?.forEach((variant, index) => {
    check(`variants[${index}].message.`, variant.message);
  });
}

/** "rules[0].trigger" becomes 'rules[0] "wishlist-on-sale".trigger'. */
function describePath(document: unknown, path: readonly PropertyKey[]): string {
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
