import { hash } from "node:crypto";

export const HOLDOUT = "holdout";

export type VariantSpec = { id: string; weight: number };

/**
 * A stable number in [0, 1) for a (rule, user, purpose): the same inputs always agree.
 * One-shot `hash` is twice as fast as a `createHash` object, and this runs twice for
 * every recipient of a rule with a holdout and variants.
 */
export function stableFraction(...parts: string[]): number {
  const digest = hash("sha256", parts.join("\u0000"), "buffer");
  return digest.readUInt32BE(0) / 2 ** 32;
}

/**
 * Assigns a user to the holdout or to one variant of a rule, deterministically, so a
 * user stays in one arm across events and processes. The holdout draw is independent
 * of the variant draw, so changing the holdout share does not reshuffle the variants.
 * Returns undefined when the rule has no variants and the user is not held out.
 *
 * Once the rule's test has promoted a `winner`, everyone not held out gets it, users
 * of the losing arms included: the test is over, and the winner is the better message
 * for them too. The holdout keeps the same users, so it stays the baseline it was. A
 * message already planned keeps the text it was planned with, and a new version of
 * the rule (which starts a new test) puts every user back in their own arm.
 */
export function assignVariant(
  ruleId: string,
  userId: string,
  variants: readonly VariantSpec[] | undefined,
  holdout: number,
  winner?: string,
): string | undefined {
  if (holdout > 0 && stableFraction(ruleId, userId, "holdout") < holdout)
    return HOLDOUT;
  if (variants === undefined || variants.length === 0) return undefined;
  if (winner !== undefined && variants.some((v) => v.id === winner))
    return winner;
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  let point = stableFraction(ruleId, userId, "variant") * total;
  for (const variant of variants) {
    point -= variant.weight;
    if (point < 0) return variant.id;
  }
  return variants[variants.length - 1]?.id;
}
