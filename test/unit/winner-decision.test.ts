import { describe, expect, it } from "vitest";
import { twoProportionPValue } from "../../src/stats/significance.ts";
import {
  decideWinner,
  dueLooks,
  lookAlpha,
  lookCutoffs,
  lookSizes,
  LOOKS,
  type ArmCount,
  type LookCounts,
} from "../../src/stats/winner-decision.ts";

const HOUR = 3_600_000;
const T0 = Date.parse("2026-07-01T00:00:00Z");
const at = (hours: number) => new Date(T0 + hours * HOUR);

const arm = (variant: string, sent: number, successes: number): ArmCount => ({
  variant,
  sent,
  successes,
});
const look = (n: number, ...arms: ArmCount[]): LookCounts => ({
  look: n,
  cutoff: at(n),
  arms,
});

describe("the look schedule", () => {
  it("when minSent is 1000, then the looks come at 1000, 2000, 4000 and 8000 pushes per variant", () => {
    expect(lookSizes(1000)).toEqual([1000, 2000, 4000, 8000]);
    expect(LOOKS).toBe(4);
  });

  it("when a variant is one push short of minSent, then no look has a cutoff", () => {
    // "b" has sent 999: its 1000th send time is unknown.
    const nth = new Map([
      ["a", [at(1), undefined, undefined, undefined]],
      ["b", [undefined, undefined, undefined, undefined]],
    ]);
    expect(lookCutoffs(["a", "b"], nth)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(dueLooks(lookCutoffs(["a", "b"], nth), 0, at(100))).toEqual([]);
  });

  it("when every variant reaches minSent, then the cutoff is when the slowest one did", () => {
    const nth = new Map([
      ["a", [at(1), at(3), undefined, undefined]],
      ["b", [at(2), undefined, undefined, undefined]],
    ]);
    expect(lookCutoffs(["a", "b"], nth)).toEqual([
      at(2),
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("when the window has not passed since the cutoff, then the look is not due; once it has, it is", () => {
    const cutoffs = [at(2), at(5), undefined, undefined];
    expect(dueLooks(cutoffs, 24 * HOUR, at(25.99))).toEqual([]);
    expect(dueLooks(cutoffs, 24 * HOUR, at(26))).toEqual([
      { look: 1, cutoff: at(2) },
    ]);
    expect(dueLooks(cutoffs, 24 * HOUR, at(29))).toEqual([
      { look: 1, cutoff: at(2) },
      { look: 2, cutoff: at(5) },
    ]);
  });
});

describe("decideWinner", () => {
  // α = 0.05 over four looks and one comparison: 0.0125 per look.
  const alpha = lookAlpha(0.95, 2);

  it("when there are two variants, then each look tests at (1 − confidence) / 4", () => {
    expect(alpha).toBeCloseTo(0.0125, 12);
    // Three variants: two comparisons with the first at each look.
    expect(lookAlpha(0.95, 3)).toBeCloseTo(0.00625, 12);
  });

  it("when no look is due, then it waits", () => {
    expect(decideWinner(0.95, [])).toEqual({ kind: "wait" });
  });

  it("when a variant is significant at the corrected level, then it wins on that look's figures", () => {
    // 100/1000 against 150/1000: p ≈ 0.0007, well under 0.0125.
    const p = twoProportionPValue(150, 1000, 100, 1000) ?? 1;
    expect(p).toBeLessThan(alpha);
    const decision = decideWinner(0.95, [
      look(1, arm("a", 1000, 100), arm("b", 1000, 150)),
    ]);
    expect(decision).toEqual({
      kind: "winner",
      variant: "b",
      figures: {
        test: "two-proportion z-test",
        look: 1,
        looks: 4,
        sentUntil: at(1).toISOString(),
        alpha,
        pValue: p,
        variants: [
          { variant: "a", sent: 1000, successes: 100, rate: 0.1, pValue: null },
          { variant: "b", sent: 1000, successes: 150, rate: 0.15, pValue: p },
        ],
      },
    });
  });

  it("when a variant is significant only at the uncorrected level, then there is no winner yet", () => {
    // 100/1000 against 130/1000: p ≈ 0.034, under 0.05 but over 0.0125.
    const p = twoProportionPValue(130, 1000, 100, 1000) ?? 0;
    expect(p).toBeLessThan(0.05);
    expect(p).toBeGreaterThan(alpha);
    expect(
      decideWinner(0.95, [look(1, arm("a", 1000, 100), arm("b", 1000, 130))]),
    ).toEqual({ kind: "wait" });
  });

  it("when the p-value is just under or just over the corrected level, then it wins or waits", () => {
    // Successes of "b" against a fixed "a": find the counts either side of α.
    const pOf = (b: number) => twoProportionPValue(b, 2000, 200, 2000) ?? 1;
    let b = 200;
    while (pOf(b) > alpha) b++;
    expect(pOf(b - 1)).toBeGreaterThan(alpha);
    expect(
      decideWinner(0.95, [look(1, arm("a", 2000, 200), arm("b", 2000, b))]),
    ).toMatchObject({ kind: "winner", variant: "b" });
    expect(
      decideWinner(0.95, [look(1, arm("a", 2000, 200), arm("b", 2000, b - 1))]),
    ).toEqual({ kind: "wait" });
  });

  it("when a variant is significantly worse than the first, then it does not win", () => {
    expect(
      decideWinner(0.95, [look(1, arm("a", 1000, 150), arm("b", 1000, 100))]),
    ).toEqual({ kind: "wait" });
  });

  it("when an earlier look showed nothing and a later one does, then the later one's figures win", () => {
    const decision = decideWinner(0.95, [
      look(1, arm("a", 1000, 100), arm("b", 1000, 120)),
      look(2, arm("a", 2000, 200), arm("b", 2000, 280)),
    ]);
    expect(decision).toMatchObject({
      kind: "winner",
      variant: "b",
      figures: { look: 2, sentUntil: at(2).toISOString() },
    });
  });

  it("when the fourth look shows no winner, then the test ends without one", () => {
    const flat = (n: number) =>
      look(
        n,
        arm("a", 1000 * 2 ** (n - 1), 100),
        arm("b", 1000 * 2 ** (n - 1), 101),
      );
    const decision = decideWinner(0.95, [flat(1), flat(2), flat(3), flat(4)]);
    expect(decision).toMatchObject({
      kind: "no-winner",
      figures: { look: 4, alpha },
    });
    // Three looks without a winner: the fourth is still to come.
    expect(decideWinner(0.95, [flat(1), flat(2), flat(3)])).toEqual({
      kind: "wait",
    });
  });

  it("when two of three variants beat the first, then the one with the higher rate wins at the level for two comparisons", () => {
    const decision = decideWinner(0.95, [
      look(1, arm("a", 1000, 100), arm("b", 1000, 160), arm("c", 1000, 180)),
    ]);
    expect(decision).toMatchObject({
      kind: "winner",
      variant: "c",
      figures: { alpha: lookAlpha(0.95, 3) },
    });
  });

  it("when the first variant has no successes and no one has any, then nothing can be tested", () => {
    expect(
      decideWinner(0.95, [look(1, arm("a", 1000, 0), arm("b", 1000, 0))]),
    ).toEqual({ kind: "wait" });
  });
});
