import { describe, expect, it } from "vitest";
import {
  findWinners,
  recordWinner,
  type StoredWinner,
} from "../../src/stats/rule-winners.repository.ts";
import type { WinnerFigures } from "../../src/stats/winner-decision.ts";
import { uniqueId, useTestDatabase } from "../support/test-database.ts";

const ctx = useTestDatabase();

const figures = (look: number): WinnerFigures => ({
  test: "two-proportion z-test",
  look,
  looks: 4,
  sentUntil: "2026-07-01T13:00:00.000Z",
  alpha: 0.0125,
  pValue: 0.001,
  variants: [],
});

const outcome = (
  ruleId: string,
  ruleVersion: string,
  variant: string | null,
  look = 1,
): StoredWinner => ({
  ruleId,
  ruleVersion,
  variant,
  metric: "open",
  decidedAt: new Date("2026-07-01T14:00:00Z"),
  figures: figures(look),
});

describe("migration 0014: rule_winners", () => {
  it("when two processes record an outcome for one rule version, then the first stands", async () => {
    const ruleId = uniqueId("rule");
    await recordWinner(ctx.database.db, outcome(ruleId, "v1", "b"));
    await recordWinner(ctx.database.db, outcome(ruleId, "v1", "a", 2));
    const found = await findWinners(ctx.database.db, [
      { id: ruleId, version: "v1" },
    ]);
    expect(found.get(ruleId)).toEqual(outcome(ruleId, "v1", "b"));
  });

  it("when the rule has a new version, then the old version's outcome is not its outcome", async () => {
    const ruleId = uniqueId("rule");
    await recordWinner(ctx.database.db, outcome(ruleId, "v1", "b"));
    expect(
      await findWinners(ctx.database.db, [{ id: ruleId, version: "v2" }]),
    ).toEqual(new Map());
    await recordWinner(ctx.database.db, outcome(ruleId, "v2", null, 4));
    const found = await findWinners(ctx.database.db, [
      { id: ruleId, version: "v2" },
    ]);
    expect(found.get(ruleId)?.variant).toBeNull();
    expect(found.get(ruleId)?.figures.look).toBe(4);
  });
});
