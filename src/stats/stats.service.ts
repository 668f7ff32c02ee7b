import { sql, type Kysely } from "kysely";
import type { Database } from "../db/database.ts";
import { inTransaction } from "../db/transaction.ts";
import type { DB } from "../db/schema.ts";
import { parseDuration } from "../rules/duration.ts";
import type { RuleBook } from "../rules/rule-book.ts";
import { twoProportionPValue } from "./significance.ts";
import {
  countFunnel,
  countHoldoutConversions,
  countReasons,
  GroupBy,
  type GroupCounts,
  type StatsQuery,
} from "./stats.repository.ts";

export type GroupStats = Omit<GroupCounts, "group"> & {
  group: string;
  targeted: number;
  suppressed: { total: number; byReason: Record<string, number> };
  failed: { total: number; byReason: Record<string, number> };
  rates: {
    delivery: number | null;
    open: number | null;
    conversion: number | null;
  };
  /** Variants only: the conversion rate's lift over the first variant, and its p-value. */
  lift?: number | null;
  pValue?: number | null;
};

export type Stats = {
  ruleId: string | null;
  from: Date;
  to: Date;
  groupBy: GroupBy | null;
  groups: GroupStats[];
  /** Variants of a rule with a holdout and a conversion: the holdout's own conversion. */
  holdout?: { held: number; converted: number; conversionRate: number | null };
};

const ratio = (part: number, whole: number) =>
  whole === 0 ? null : part / whole;

/**
 * The funnel per group: triggered (every recipient planned), suppressed by reason,
 * targeted (the rest), deferred, queued, sent, failed by reason, cancelled,
 * invalid_token, received, opened, bounced, converted; delivery, open and conversion
 * rates; for variants the lift over the first variant with a two-proportion p-value,
 * and the holdout's conversion as the baseline.
 */
export async function ruleStats(
  db: Database,
  book: RuleBook,
  query: StatsQuery,
): Promise<Stats> {
  const { funnel, reasons, holdout } = await inTransaction(db, async (trx) => {
    // These aggregates cost enough to trigger JIT compilation, which takes longer
    // than running them (bench/stats.ts).
    await sql`set local jit = off`.execute(trx);
    return {
      funnel: await countFunnel(trx, query),
      reasons: await countReasons(trx, query),
      holdout: await holdoutBaseline(trx, book, query),
    };
  });
  const groups = funnel.map((counts): GroupStats => {
    const tally = (status: string) => {
      const byReason: Record<string, number> = {};
      for (const r of reasons)
        if (r.group === counts.group && r.status === status)
          byReason[r.reason] = r.count;
      const total = Object.values(byReason).reduce((a, b) => a + b, 0);
      return { total, byReason };
    };
    const suppressed = tally("suppressed");
    const targeted = counts.triggered - suppressed.total;
    return {
      ...counts,
      targeted,
      suppressed,
      failed: tally("failed"),
      rates: {
        delivery: ratio(counts.sent, targeted),
        open: ratio(counts.opened, counts.sent),
        conversion: ratio(counts.converted, counts.sent),
      },
    };
  });
  const stats: Stats = {
    ruleId: query.ruleId ?? null,
    from: query.from,
    to: query.to,
    groupBy: query.groupBy ?? null,
    groups,
  };
  if (query.groupBy !== GroupBy.variant || query.ruleId === undefined)
    return stats;

  const rule = book.rules.find((r) => r.id === query.ruleId);
  const firstId = rule?.variants?.[0]?.id;
  const first = groups.find((g) => g.group === firstId);
  if (first !== undefined) {
    for (const group of groups) {
      if (group === first || group.group === "holdout") continue;
      const base = first.rates.conversion;
      const rate = group.rates.conversion;
      group.lift =
        base === null || base === 0 || rate === null ? null : rate / base - 1;
      group.pValue =
        twoProportionPValue(
          group.converted,
          group.sent,
          first.converted,
          first.sent,
        ) ?? null;
    }
  }
  if (holdout !== undefined) {
    stats.holdout = {
      ...holdout,
      conversionRate: ratio(holdout.converted, holdout.held),
    };
  }
  return stats;
}

/** By variant, for a rule with a holdout and a conversion: the holdout's conversions. */
async function holdoutBaseline(
  db: Kysely<DB>,
  book: RuleBook,
  query: StatsQuery,
): Promise<{ held: number; converted: number } | undefined> {
  if (query.groupBy !== GroupBy.variant || query.ruleId === undefined)
    return undefined;
  const rule = book.rules.find((r) => r.id === query.ruleId);
  if (rule?.conversion === undefined || rule.holdout === 0) return undefined;
  const withinMs = parseDuration(rule.conversion.within);
  if (withinMs === undefined) return undefined;
  return countHoldoutConversions(
    db,
    { ...query, ruleId: rule.id },
    { event: rule.conversion.event, withinMs },
  );
}
