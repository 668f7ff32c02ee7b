import { sql, type Kysely } from "kysely";
import { NotificationStatus, type DB } from "../db/schema.ts";
import type { ArmCount, LookCounts, WinnerFigures } from "./winner-decision.ts";

/** A rule version whose test is asked about. */
export type TestedRule = { id: string; version: string };

/** The recorded outcome of a rule version's test; `variant` null: no winner. */
export type StoredWinner = {
  ruleId: string;
  ruleVersion: string;
  variant: string | null;
  metric: string;
  decidedAt: Date;
  figures: WinnerFigures;
};

/**
 * The recorded outcomes of these rule versions, by rule id: one query, whatever the
 * number of recipients about to be planned.
 */
export async function findWinners(
  db: Kysely<DB>,
  rules: readonly TestedRule[],
): Promise<Map<string, StoredWinner>> {
  if (rules.length === 0) return new Map();
  const rows = await db
    .selectFrom("rule_winners")
    .selectAll()
    .where((eb) =>
      eb.or(
        rules.map((rule) =>
          eb.and([
            eb("rule_id", "=", rule.id),
            eb("rule_version", "=", rule.version),
          ]),
        ),
      ),
    )
    .execute();
  return new Map(
    rows.map((row) => [
      row.rule_id,
      {
        ruleId: row.rule_id,
        ruleVersion: row.rule_version,
        variant: row.variant,
        metric: row.metric,
        decidedAt: row.decided_at,
        figures: row.figures as unknown as WinnerFigures,
      },
    ]),
  );
}

/**
 * Records a test's outcome unless one is recorded already: processes checking at once
 * may both decide, and the first to commit stands for all.
 */
export async function recordWinner(
  db: Kysely<DB>,
  winner: StoredWinner,
): Promise<void> {
  await db
    .insertInto("rule_winners")
    .values({
      rule_id: winner.ruleId,
      rule_version: winner.ruleVersion,
      variant: winner.variant,
      metric: winner.metric,
      decided_at: winner.decidedAt,
      figures: JSON.stringify(winner.figures),
    })
    .onConflict((oc) => oc.columns(["rule_id", "rule_version"]).doNothing())
    .execute();
}

/**
 * The send time of each variant's push number `sizes[k]` (in send order), at index k;
 * undefined where a variant has not sent that many. Reads the rule version's sent
 * pushes through the (rule_id, created_at) index, and only while its test runs.
 */
export async function nthSendTimes(
  db: Kysely<DB>,
  rule: TestedRule,
  variants: readonly string[],
  sizes: readonly number[],
): Promise<Map<string, (Date | undefined)[]>> {
  const { rows } = await sql<{ variant: string; n: number; sent_at: Date }>`
    select variant, n::int as n, sent_at from (
      select variant, sent_at,
        row_number() over (partition by variant order by sent_at, notification_id) as n
      from notifications
      where rule_id = ${rule.id} and rule_version = ${rule.version}
        and status = ${NotificationStatus.sent}
        and variant in (${sql.join(variants)})
    ) ranked
    where n in (${sql.join(sizes)})`.execute(db);
  const times = new Map<string, (Date | undefined)[]>(
    variants.map((variant) => [variant, sizes.map(() => undefined)]),
  );
  for (const row of rows) {
    const k = sizes.indexOf(row.n);
    const slots = times.get(row.variant);
    if (slots !== undefined && k >= 0) slots[k] = row.sent_at;
  }
  return times;
}

/**
 * Each look's counts: per variant, the pushes sent up to the look's cutoff, and of
 * them the ones opened (or converted) within `windowMs` of their send, so that an
 * outcome reported later never changes a look already taken.
 */
export async function countLooks(
  db: Kysely<DB>,
  rule: TestedRule,
  variants: readonly string[],
  looks: readonly { look: number; cutoff: Date }[],
  metric: { column: "opened_at" | "converted_at"; windowMs: number },
): Promise<LookCounts[]> {
  const last = looks.at(-1);
  if (last === undefined) return [];
  const window = `${String(metric.windowMs)} milliseconds`;
  const outcome = sql.ref(`n.${metric.column}`);
  const cutoffs = sql.join(
    looks.map(
      ({ look, cutoff }) => sql`(${look}::int, ${cutoff}::timestamptz)`,
    ),
  );
  const { rows } = await sql<{
    look: number;
    variant: string;
    sent: number;
    successes: number;
  }>`
    select l.look, n.variant, count(*)::int as sent,
      count(*) filter (
        where ${outcome} <= n.sent_at + ${window}::interval
      )::int as successes
    from notifications n
    join (values ${cutoffs}) as l(look, cutoff) on n.sent_at <= l.cutoff
    where n.rule_id = ${rule.id} and n.rule_version = ${rule.version}
      and n.status = ${NotificationStatus.sent}
      and n.variant in (${sql.join(variants)})
      and n.sent_at <= ${last.cutoff}
    group by 1, 2`.execute(db);
  return looks.map(({ look, cutoff }) => ({
    look,
    cutoff,
    arms: variants.map((variant): ArmCount => {
      const row = rows.find((r) => r.look === look && r.variant === variant);
      return { variant, sent: row?.sent ?? 0, successes: row?.successes ?? 0 };
    }),
  }));
}
