import { twoProportionPValue } from "./significance.ts";

/*
 * When a rule's auto-winner test promotes a variant: pure, no I/O.
 *
 * The test is the stats API's: a two-proportion z-test of each later variant against
 * the first, on the metric's rate (opens or conversions per push sent). Looking at a
 * running test again and again until it shows significance finds a "winner" far more
 * often than the confidence promises (checking every few minutes, a tie would be
 * promoted in a good share of campaigns). So the test looks at fixed points only, a
 * group-sequential design with a Bonferroni split of the error rate:
 *
 * - Look k (k = 1…4) is due when every variant has sent minSent × 2^(k−1) pushes. Its
 *   cutoff is the moment the slowest variant sent its last of those, and it counts the
 *   pushes every variant sent up to then: one stretch of time for all, so a variant of
 *   larger weight is not judged on other hours than the rest.
 * - It is taken only once its pushes have all had `window` to be opened or converted,
 *   and it counts only the outcomes within that window of each send: its figures are
 *   then final, so reading it again gives the same answer. That makes the checks'
 *   timing irrelevant: whenever and however often it is read, each look is one test.
 * - Each look tests at α / (4 × (variants − 1)), α = 1 − confidence: a Bonferroni
 *   bound over the four looks and the comparisons with the first, so the chance of
 *   promoting a variant that is no better stays under α in all. It is conservative
 *   (the looks are correlated), the price of a bound that needs no assumption beyond
 *   the z-test's own.
 * - A variant wins when its rate is above the first's with a p-value at or below that
 *   level; of several, the one with the highest rate. When the fourth look passes with
 *   no winner, the test ends without one and the weights stay.
 *
 * A fixed schedule rather than an always-valid sequential method (mSPRT and the like)
 * because its figures are the very p-values the stats API shows beside them, which a
 * reader can check by hand, and its cost is four queries per test, not one per check.
 */

/** Looks a test takes at most: at 1, 2, 4 and 8 times minSent pushes per variant. */
export const LOOKS = 4;

/** The pushes per variant each look needs, in order. */
export function lookSizes(minSent: number): number[] {
  return Array.from({ length: LOOKS }, (_, k) => minSent * 2 ** k);
}

/**
 * Each look's cutoff: when the slowest variant sent the push that made its size, or
 * undefined while some variant has not. `nthSends` gives, per variant, the send time
 * of its push number lookSizes()[k] at index k.
 */
export function lookCutoffs(
  variants: readonly string[],
  nthSends: ReadonlyMap<string, readonly (Date | undefined)[]>,
): (Date | undefined)[] {
  return Array.from({ length: LOOKS }, (_, k) => {
    let cutoff: Date | undefined;
    for (const variant of variants) {
      const at = nthSends.get(variant)?.[k];
      if (at === undefined) return undefined;
      if (cutoff === undefined || at > cutoff) cutoff = at;
    }
    return cutoff;
  });
}

/** The looks (1-based) whose pushes have all had the window to convert by `now`. */
export function dueLooks(
  cutoffs: readonly (Date | undefined)[],
  windowMs: number,
  now: Date,
): { look: number; cutoff: Date }[] {
  const due: { look: number; cutoff: Date }[] = [];
  for (const [index, cutoff] of cutoffs.entries()) {
    if (cutoff === undefined || cutoff.getTime() + windowMs > now.getTime())
      break;
    due.push({ look: index + 1, cutoff });
  }
  return due;
}

/** One variant's pushes sent up to a look's cutoff, and how many opened or converted. */
export type ArmCount = { variant: string; sent: number; successes: number };

/** A due look's counts, one per variant, in the rule's order (the first is the baseline). */
export type LookCounts = { look: number; cutoff: Date; arms: ArmCount[] };

/** What a decision rests on, as GET /v1/rules/:id and /v1/stats show it. */
export type WinnerFigures = {
  test: "two-proportion z-test";
  look: number;
  looks: number;
  /** The look's cutoff: it counts the pushes sent up to this instant. */
  sentUntil: string;
  /** The level each comparison was held to at this look. */
  alpha: number;
  /** The winner's p-value against the first; without a winner, the smallest one. */
  pValue: number | null;
  variants: {
    variant: string;
    sent: number;
    successes: number;
    rate: number | null;
    /** Against the first variant; null for the first, or when it cannot be computed. */
    pValue: number | null;
  }[];
};

export type WinnerDecision =
  | { kind: "wait" }
  | { kind: "winner"; variant: string; figures: WinnerFigures }
  | { kind: "no-winner"; figures: WinnerFigures };

/**
 * Decides from the due looks, in order: the first that shows a winner promotes it; the
 * last look without one ends the test; otherwise it waits for the next look.
 */
export function decideWinner(
  confidence: number,
  looks: readonly LookCounts[],
): WinnerDecision {
  let last: WinnerFigures | undefined;
  for (const look of looks) {
    const { figures, winner } = judgeLook(confidence, look);
    if (winner !== undefined)
      return { kind: "winner", variant: winner, figures };
    last = figures;
  }
  if (last !== undefined && last.look >= LOOKS)
    return { kind: "no-winner", figures: last };
  return { kind: "wait" };
}

/** The level each comparison of one look is held to. */
export function lookAlpha(confidence: number, variants: number): number {
  return (1 - confidence) / (LOOKS * Math.max(1, variants - 1));
}

function judgeLook(
  confidence: number,
  { look, cutoff, arms }: LookCounts,
): { figures: WinnerFigures; winner: string | undefined } {
  const alpha = lookAlpha(confidence, arms.length);
  const [first] = arms;
  const rateOf = (arm: ArmCount) =>
    arm.sent === 0 ? null : arm.successes / arm.sent;
  const variants = arms.map((arm, index) => ({
    ...arm,
    rate: rateOf(arm),
    pValue:
      index === 0 || first === undefined
        ? null
        : (twoProportionPValue(
            arm.successes,
            arm.sent,
            first.successes,
            first.sent,
          ) ?? null),
  }));
  const base = variants[0]?.rate ?? null;
  const better = variants
    .slice(1)
    .filter(
      (v) =>
        v.pValue !== null &&
        v.pValue <= alpha &&
        v.rate !== null &&
        base !== null &&
        v.rate > base,
    )
    .sort((x, y) => (y.rate ?? 0) - (x.rate ?? 0));
  const winner = better[0];
  const pValues = variants.flatMap((v) =>
    v.pValue === null ? [] : [v.pValue],
  );
  return {
    winner: winner?.variant,
    figures: {
      test: "two-proportion z-test",
      look,
      looks: LOOKS,
      sentUntil: cutoff.toISOString(),
      alpha,
      pValue:
        winner?.pValue ?? (pValues.length === 0 ? null : Math.min(...pValues)),
      variants,
    },
  };
}
