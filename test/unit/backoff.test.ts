import { describe, expect, it } from "vitest";
import { retryDelay } from "../../src/delivery/backoff.ts";

const policy = { baseMs: 10_000, maxMs: 3_600_000 };

describe("retryDelay", () => {
  it("when attempts fail one after another, then the delay doubles, jittered between half and all of it", () => {
    for (const [attempt, nominal] of [
      [1, 10_000],
      [2, 20_000],
      [3, 40_000],
    ] as const) {
      expect(retryDelay(policy, attempt, undefined, () => 0)).toBe(nominal / 2);
      expect(retryDelay(policy, attempt, undefined, () => 1)).toBe(nominal);
    }
  });

  it("when the provider asks for a longer wait, then Retry-After wins", () => {
    expect(retryDelay(policy, 1, 120_000, () => 1)).toBe(120_000);
  });

  it("when the provider asks for a shorter wait, then the backoff wins", () => {
    expect(retryDelay(policy, 3, 1_000, () => 0)).toBe(20_000);
  });

  it("when the delay would grow past the maximum, then it stops there, Retry-After included", () => {
    expect(retryDelay(policy, 30, undefined, () => 1)).toBe(3_600_000);
    expect(retryDelay(policy, 1, 86_400_000, () => 1)).toBe(3_600_000);
  });
});
