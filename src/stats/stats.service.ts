import { sql, type Kysely } from "kysely";
import type { Database } from "../db/database.ts";
import { inTransaction } from "../db/transaction.ts";
import { NotificationStatus, type DB } from "../db/schema.ts";
import { parseDuration } from "../rules/duration.ts";
import type { RuleBook } from "../rules/rule-book.ts";
import { currentWinner, type WinnerView } from "./auto-winner.service.ts";
import { twoProportionPValue } from "./significance.ts";
import { refreshStats } from "./stats-rollup.ts";
import {
  countHoldoutConversions,
  countOutcomes,
  GroupBy,
  type OutcomeCount,
  type StatsQuery,
} from "./stats.repository.ts";

export type GroupStats = {
  /** By rule: the rule the group belongs to. */
  ruleId?: string;
  group: string;
  triggered: number;
  deferred: number;
  queued: number;
  sent: number;
  cancelled: number;
  invalidToken: number;
  received: number;
  opened: number;
  bounced: number;
  converted: number;
  /** Opens by the button tapped (action id); a tap on the notification itself is not here. */
  actions: Record<string, number>;
  targeted: number;
  suppressed: { total: number; byReason: Record<string, number> };
  failed: { total: number; byReason: Record<string, number> };
  rates: {
    delivery: number | null;
    open: number | null;
    conversion: number | null;
  };
  /**
   * Variants: the conversion rate's lift over the first variant, and its p-value.
   * Timing: the open rate's lift of `optimized` over `control`, and its p-value.
   */
  lift?: number | null;
  pValue?: number | null;
};

export type Stats = {
  ruleId: string | null;
  from: Date;
  to: Date;
  /** As asked: `variant`, `day`…, or `rule` and `rule,<grouping>`. */
  groupBy: string | null;
  groups: GroupStats[];
  /** Variants of a rule with a holdout and a conversion: the holdout's own conversion. */
  holdout?: { held: number; converted: number; conversionRate: number | null };
  /** Variants of a rule with `autoWinner`: its current test's outcome, null while it runs. */
  winner?: WinnerView | null;
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
  await refreshStats(db, query);
  const { outcomes, holdout } = await inTransaction(db, async (trx) => {
    // The partial hours at the window's ends are counted from the notifications, which
    // can cost enough to trigger JIT compilation, slower than running the query.
    await sql`set local jit = off`.execute(trx);
    return {
      outcomes: await countOutcomes(trx, query),
      holdout: await holdoutBaseline(trx, book, query),
    };
  });
  const groups = foldGroups(outcomes);
  const stats: Stats = {
    ruleId: query.ruleId ?? null,
    from: query.from,
    to: query.to,
    groupBy: groupingOf(query),
    groups,
  };
  if (query.groupBy === GroupBy.timing && query.byRule !== true) {
    // The learned hour is judged on opens: it aims at when users look, and a rule
    // need not count conversions.
    compareWithBase(groups, "control", ["optimized"], "open");
    return stats;
  }
  if (!comparesVariants(query)) return stats;

  const rule = book.rules.find((r) => r.id === query.ruleId);
  const firstId = rule?.variants?.[0]?.id;
  if (firstId !== undefined) {
    const others = groups
      .map((g) => g.group)
      .filter((id) => id !== firstId && id !== "holdout");
    compareWithBase(groups, firstId, others, "conversion");
  }
  if (holdout !== undefined) {
    stats.holdout = {
      ...holdout,
      conversionRate: ratio(holdout.converted, holdout.held),
    };
  }
  const winner = rule === undefined ? undefined : await currentWinner(db, rule);
  if (winner !== undefined) stats.winner = winner;
  return stats;
}

/**
 * Sets the lift of each of `others` over the `base` group on one rate, and the
 * two-proportion z-test's p-value that they differ, per push sent.
 */
function compareWithBase(
  groups: GroupStats[],
  baseId: string,
  others: readonly string[],
  rate: "open" | "conversion",
): void {
  const base = groups.find((g) => g.group === baseId);
  if (base === undefined) return;
  const successes = (g: GroupStats) =>
    rate === "open" ? g.opened : g.converted;
  for (const group of groups) {
    if (group === base || !others.includes(group.group)) continue;
    const baseRate = base.rates[rate];
    const own = group.rates[rate];
    group.lift =
      baseRate === null || baseRate === 0 || own === null
        ? null
        : own / baseRate - 1;
    group.pValue =
      twoProportionPValue(
        successes(group),
        group.sent,
        successes(base),
        base.sent,
      ) ?? null;
  }
}

/** Variants of one rule: the grouping that has lift, p-values, holdout and winner. */
const comparesVariants = (query: StatsQuery) =>
  query.groupBy === GroupBy.variant &&
  query.ruleId !== undefined &&
  query.byRule !== true;

function groupingOf(query: StatsQuery): string | null {
  const parts = [query.byRule === true ? "rule" : "", query.groupBy ?? ""];
  return parts.filter((p) => p !== "").join(",") || null;
}

/**
 * The funnel of each group, in the order the outcomes come in. By rule alone, a
 * rule's one group is named by the rule.
 */
function foldGroups(outcomes: readonly OutcomeCount[]): GroupStats[] {
  const groups = new Map<string, GroupStats>();
  for (const o of outcomes) {
    const key = JSON.stringify([o.ruleId, o.group]);
    let g = groups.get(key);
    if (g === undefined) {
      g = emptyGroup(o.group);
      if (o.ruleId !== null) {
        g.ruleId = o.ruleId;
        if (o.group === "all") g.group = o.ruleId;
      }
      groups.set(key, g);
    }
    addOutcome(g, o);
  }
  for (const g of groups.values()) setTargetedAndRates(g);
  return [...groups.values()];
}

function emptyGroup(group: string): GroupStats {
  return {
    group,
    triggered: 0,
    deferred: 0,
    queued: 0,
    sent: 0,
    cancelled: 0,
    invalidToken: 0,
    received: 0,
    opened: 0,
    bounced: 0,
    converted: 0,
    actions: {},
    targeted: 0,
    suppressed: { total: 0, byReason: {} },
    failed: { total: 0, byReason: {} },
    rates: { delivery: null, open: null, conversion: null },
  };
}

/** Counts one outcome's notifications, and their feedback, into the funnel of `g`. */
function addOutcome(g: GroupStats, o: OutcomeCount): void {
  const S = NotificationStatus;
  const n = o.notifications;
  g.triggered += n;
  if (o.deferred) g.deferred += n;
  if (o.invalidToken) g.invalidToken += n;
  g.received += o.received;
  g.opened += o.opened;
  g.bounced += o.bounced;
  g.converted += o.converted;
  if (o.action !== null && o.opened > 0)
    g.actions[o.action] = (g.actions[o.action] ?? 0) + o.opened;
  switch (o.status) {
    case S.pending:
    case S.sending:
      g.queued += n;
      break;
    case S.sent:
      g.sent += n;
      break;
    case S.cancelled:
      g.cancelled += n;
      break;
    case S.suppressed:
    case S.failed: {
      const tally = g[o.status];
      const reason = o.reason ?? "unknown";
      tally.byReason[reason] = (tally.byReason[reason] ?? 0) + n;
      tally.total += n;
      break;
    }
  }
}

/** What follows from a group's counts once all are in: targeted, and the rates. */
function setTargetedAndRates(g: GroupStats): void {
  g.targeted = g.triggered - g.suppressed.total;
  g.rates = {
    delivery: ratio(g.sent, g.targeted),
    open: ratio(g.opened, g.sent),
    conversion: ratio(g.converted, g.sent),
  };
}

/** By variant, for a rule with a holdout and a conversion: the holdout's conversions. */
async function holdoutBaseline(
  db: Kysely<DB>,
  book: RuleBook,
  query: StatsQuery,
): Promise<{ held: number; converted: number } | undefined> {
  if (!comparesVariants(query)) return undefined;
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
