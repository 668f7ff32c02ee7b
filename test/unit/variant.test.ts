import { describe, expect, it } from "vitest";
import {
  assignVariant,
  HOLDOUT,
  stableFraction,
  type VariantSpec,
} from "../../src/rules/variant.ts";

const USERS = Array.from({ length: 20_000 }, (_, n) => `user-${n}`);
const HALVES: VariantSpec[] = [
  { id: "a", weight: 50 },
  { id: "b", weight: 50 },
];

/** The share of USERS assigned to each answer. */
function shares(
  ruleId: string,
  variants: readonly VariantSpec[] | undefined,
  holdout: number,
): Map<string | undefined, number> {
  const counts = new Map<string | undefined, number>();
  for (const user of USERS) {
    const arm = assignVariant(ruleId, user, variants, holdout);
    counts.set(arm, (counts.get(arm) ?? 0) + 1);
  }
  return new Map([...counts].map(([arm, n]) => [arm, n / USERS.length]));
}

describe("assignVariant", () => {
  it("when asked again for the same rule and user, then the answer is the same", () => {
    for (const user of USERS.slice(0, 500)) {
      const first = assignVariant("rule-1", user, HALVES, 0.1);
      for (let repeat = 0; repeat < 3; repeat++)
        expect(assignVariant("rule-1", user, HALVES, 0.1)).toBe(first);
    }
  });

  it("when the same users meet two rules, then their assignments are independent", () => {
    let same = 0;
    for (const user of USERS) {
      if (
        assignVariant("rule-1", user, HALVES, 0) ===
        assignVariant("rule-2", user, HALVES, 0)
      )
        same++;
    }
    // Independent 50/50 draws agree for about half of the users, not all or none.
    expect(same / USERS.length).toBeGreaterThan(0.48);
    expect(same / USERS.length).toBeLessThan(0.52);
  });

  it("when weights are 50/50, then each variant gets half of the users within 2%", () => {
    const result = shares("even", HALVES, 0);
    expect(Math.abs((result.get("a") ?? 0) - 0.5)).toBeLessThan(0.02);
    expect(Math.abs((result.get("b") ?? 0) - 0.5)).toBeLessThan(0.02);
  });

  it("when weights are 90/10, then the shares follow the weights within 2%", () => {
    const result = shares(
      "skewed",
      [
        { id: "big", weight: 9 },
        { id: "small", weight: 1 },
      ],
      0,
    );
    expect(Math.abs((result.get("big") ?? 0) - 0.9)).toBeLessThan(0.02);
    expect(Math.abs((result.get("small") ?? 0) - 0.1)).toBeLessThan(0.02);
    expect(result.size).toBe(2);
  });

  it("when the holdout is 5%, then 5% of users (±1%) are held out", () => {
    const result = shares("held", HALVES, 0.05);
    expect(Math.abs((result.get(HOLDOUT) ?? 0) - 0.05)).toBeLessThan(0.01);
    expect(Math.abs((result.get("a") ?? 0) - 0.475)).toBeLessThan(0.02);
  });

  it("when the holdout share changes, then users not held out keep their variant", () => {
    let moved = 0;
    let compared = 0;
    for (const user of USERS) {
      const before = assignVariant("rule-1", user, HALVES, 0.05);
      const after = assignVariant("rule-1", user, HALVES, 0.2);
      if (before === HOLDOUT || after === HOLDOUT) continue;
      compared++;
      if (before !== after) moved++;
    }
    expect(compared).toBeGreaterThan(15_000);
    expect(moved).toBe(0);
  });

  it("when the holdout share grows, then everyone held out before stays held out", () => {
    for (const user of USERS) {
      if (assignVariant("rule-1", user, HALVES, 0.05) === HOLDOUT)
        expect(assignVariant("rule-1", user, HALVES, 0.2)).toBe(HOLDOUT);
    }
  });

  it("when a rule has no variants and no holdout, then there is no assignment", () => {
    expect(assignVariant("rule-1", "user-1", undefined, 0)).toBeUndefined();
    expect(assignVariant("rule-1", "user-1", [], 0)).toBeUndefined();
  });

  it("when a rule has no variants but a holdout, then users are either held out or unassigned", () => {
    const result = shares("holdout-only", undefined, 0.1);
    expect([...result.keys()].sort()).toEqual([HOLDOUT, undefined]);
    expect(Math.abs((result.get(HOLDOUT) ?? 0) - 0.1)).toBeLessThan(0.01);
  });

  it("when the holdout is zero, then nobody is held out", () => {
    const result = shares("no-holdout", HALVES, 0);
    expect(result.has(HOLDOUT)).toBe(false);
    for (const user of USERS)
      expect(assignVariant("no-variants", user, undefined, 0)).toBeUndefined();
  });

  it("when the holdout is 1, then everyone is held out", () => {
    expect(shares("all-held", HALVES, 1)).toEqual(new Map([[HOLDOUT, 1]]));
  });
});

describe("assignVariant after a test promoted a winner", () => {
  it("when a winner is given, then every user not held out gets it, and the holdout keeps its users", () => {
    for (const user of USERS.slice(0, 2_000)) {
      const before = assignVariant("rule-1", user, HALVES, 0.05);
      const after = assignVariant("rule-1", user, HALVES, 0.05, "b");
      expect(after).toBe(before === HOLDOUT ? HOLDOUT : "b");
    }
  });

  it("when the winner is not among the rule's variants, then users keep their own arm", () => {
    for (const user of USERS.slice(0, 500)) {
      expect(assignVariant("rule-1", user, HALVES, 0.05, "gone")).toBe(
        assignVariant("rule-1", user, HALVES, 0.05),
      );
    }
  });
});

describe("stableFraction", () => {
  it("when given the same parts, then it gives the same number in [0, 1)", () => {
    const value = stableFraction("rule", "user", "variant");
    expect(stableFraction("rule", "user", "variant")).toBe(value);
    expect(value).toBeGreaterThanOrEqual(0);
    expect(value).toBeLessThan(1);
  });

  it("when parts are joined differently, then the numbers differ", () => {
    // A separator keeps ("ab", "c") apart from ("a", "bc").
    expect(stableFraction("ab", "c")).not.toBe(stableFraction("a", "bc"));
  });
});
