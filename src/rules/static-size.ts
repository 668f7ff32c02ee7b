import { TokenKind } from "liquidjs";
import { measureMessage } from "../providers/push-content.ts";
import { Platform } from "../vocabulary.ts";
import { mergeFields } from "./message-fields.ts";
import { parseTemplate } from "./message-template.ts";
import type { RuleSpec } from "./rules-file.schema.ts";

/**
 * Why a rule's message cannot fit a platform whatever its variables hold: its static
 * text alone — the text outside every Liquid tag and output, which every recipient
 * gets — makes a payload over the platform's limit. Checked for every variant and
 * locale when the rules are loaded, so such a rule is refused instead of suppressing
 * each of its pushes. A body that the rule lets be shortened does not count.
 */
export function staticSizeProblems(spec: RuleSpec): string[] {
  const { message } = spec;
  const variants = [undefined, ...(spec.variants ?? [])];
  const locales = [
    undefined,
    ...new Set([
      ...Object.keys(message.locales ?? {}),
      ...(spec.variants ?? []).flatMap((v) =>
        Object.keys(v.message?.locales ?? {}),
      ),
    ]),
  ];
  const problems: string[] = [];
  for (const variant of variants) {
    for (const locale of locales) {
      const fields = mergeFields(
        message,
        variant?.message,
        locale === undefined ? undefined : message.locales?.[locale],
        locale === undefined ? undefined : variant?.message?.locales?.[locale],
      );
      const problem = problemOf(staticTextOf(fields), spec.id);
      if (problem === undefined) continue;
      const where = [
        variant === undefined ? "" : ` variant "${variant.id}"`,
        locale === undefined ? "" : ` locale "${locale}"`,
      ].join("");
      problems.push(`message${where}: ${problem}`);
    }
  }
  return problems;
}

function problemOf(
  fields: Record<string, unknown>,
  ruleId: string,
): string | undefined {
  for (const platform of Object.values(Platform)) {
    const { bytes, limit } = measureMessage(fields, ruleId, platform);
    if (bytes > limit)
      return `its static text alone makes the ${platform} payload ${bytes} bytes, over the ${limit} allowed: shorten it`;
  }
  return undefined;
}

/** Each field's static text: the text outside Liquid's tags and outputs. */
function staticTextOf(
  fields: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields))
    out[name] = staticOf(value);
  return out;
}

/** A value with each string replaced by its static text; lists stay lists. */
function staticOf(value: unknown): unknown {
  if (typeof value === "string") return literalText(value);
  if (Array.isArray(value)) return value.map(staticOf);
  if (typeof value === "object" && value !== null)
    return staticTextOf(value as Record<string, unknown>);
  return value;
}

/**
 * The text that renders whatever the variables hold: the template's top-level text,
 * outside any tag (an `if` may leave its text out) or output.
 */
function literalText(source: string): string {
  return parseTemplate(source)
    .map((part) =>
      part.token.kind === TokenKind.HTML ? (part as { str?: string }).str : "",
    )
    .join("")
    .trim();
}
