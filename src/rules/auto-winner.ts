import { parseDuration } from "./duration.ts";
import type { RuleSpec } from "./rules-file.schema.ts";

const DAY_MS = 86_400_000;

/** A rule's `autoWinner`, with its defaults worked out. */
export type AutoWinner = {
  metric: "conversion" | "open";
  minSent: number;
  confidence: number;
  /** How long after its send a push's open or conversion counts toward the test. */
  windowMs: number;
};

/**
 * The rule's auto-winner test, or undefined without one. The metric defaults to
 * conversions when the rule counts them (what a campaign is for), else to opens. The
 * window is how long a push's outcome is awaited before it counts: a look is taken only
 * once every push it counts has had that long, so its figures are final when read.
 */
export function autoWinnerOf(spec: RuleSpec): AutoWinner | undefined {
  const test = spec.autoWinner;
  if (test === undefined) return undefined;
  const metric =
    test.metric ?? (spec.conversion === undefined ? "open" : "conversion");
  return {
    metric,
    minSent: test.minSent,
    confidence: test.confidence,
    windowMs:
      (test.window === undefined ? undefined : parseDuration(test.window)) ??
      defaultWindowMs(spec, metric),
  };
}

function defaultWindowMs(spec: RuleSpec, metric: AutoWinner["metric"]): number {
  const conversion = spec.conversion;
  if (metric === "open" || conversion === undefined) return DAY_MS;
  const within = parseDuration(conversion.within) ?? 0;
  // A conversion counted from the open needs the open first: most come within a day.
  return conversion.after === "open" ? within + DAY_MS : within;
}

/**
 * What an `autoWinner` needs besides its own shape: two variants or more to choose
 * from, and a conversion to count when it compares conversions. Read from the raw rule
 * so they are reported together with shape errors.
 */
export function autoWinnerProblems(
  rule: Readonly<Record<string, unknown>>,
  where: string,
): string[] {
  const test = rule.autoWinner;
  if (typeof test !== "object" || test === null) return [];
  const problems: string[] = [];
  const variants = Array.isArray(rule.variants) ? rule.variants.length : 0;
  if (variants < 2)
    problems.push(
      `${where}.autoWinner: needs two variants or more to choose from (the rule has ${String(variants)})`,
    );
  if (
    (test as { metric?: unknown }).metric === "conversion" &&
    rule.conversion === undefined
  )
    problems.push(
      `${where}.autoWinner.metric: "conversion" needs the rule's conversion, e.g. {"event": "Order Completed", "within": "1d"}`,
    );
  return problems;
}
