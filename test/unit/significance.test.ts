import { describe, expect, it } from "vitest";
import {
  standardNormalCdf,
  twoProportionPValue,
} from "../../src/stats/significance.ts";

describe("standardNormalCdf", () => {
  it("when evaluated at known points, then it matches the normal table", () => {
    expect(standardNormalCdf(0)).toBeCloseTo(0.5, 6);
    expect(standardNormalCdf(1.96)).toBeCloseTo(0.975, 4);
    expect(standardNormalCdf(-1.96)).toBeCloseTo(0.025, 4);
    expect(standardNormalCdf(3)).toBeCloseTo(0.99865, 4);
  });
});

describe("twoProportionPValue", () => {
  it("when the arms differ clearly, then p is small, as a statistics package says", () => {
    // 200/1000 against 150/1000: pooled 0.175, z = 2.942, p = 0.00326.
    expect(twoProportionPValue(200, 1000, 150, 1000)).toBeCloseTo(0.00326, 4);
  });

  it("when the arms convert alike, then p is 1", () => {
    expect(twoProportionPValue(50, 500, 50, 500)).toBeCloseTo(1, 6);
  });

  it("when an arm is empty or there is no variance, then there is no p-value", () => {
    expect(twoProportionPValue(0, 0, 5, 10)).toBeUndefined();
    expect(twoProportionPValue(0, 10, 0, 10)).toBeUndefined();
    expect(twoProportionPValue(10, 10, 10, 10)).toBeUndefined();
  });
});
