import { sql, type Kysely } from "kysely";
import { NotificationStatus, type DB } from "../db/schema.ts";

/** Notifications of one rule waiting for the same reason, and when they fall due. */
export type WaitingGroup = {
  ruleId: string;
  /** What holds them (delay, quiet_hours, window); empty when they are due now. */
  deferredBy: string[];
  /** Whether a send was tried and they wait for the next attempt. */
  retrying: boolean;
  count: number;
  nextDueAt: Date;
  lastDueAt: Date;
};

/**
 * The pending notifications of every rule (or one), grouped by what holds them. It
 * reads the pending rows through the delivery's own partial index on them, so it costs
 * what is waiting, never the table's history.
 */
export async function countWaiting(
  db: Kysely<DB>,
  ruleId: string | undefined,
): Promise<WaitingGroup[]> {
  let query = db
    .selectFrom("notifications")
    .select([
      "rule_id",
      "deferred_by",
      sql<boolean>`attempts > 0`.as("retrying"),
      sql<number>`count(*)::int`.as("count"),
      sql<Date>`min(send_at)`.as("next_due_at"),
      sql<Date>`max(send_at)`.as("last_due_at"),
    ])
    .where("status", "=", NotificationStatus.pending);
  if (ruleId !== undefined) query = query.where("rule_id", "=", ruleId);
  const rows = await query
    .groupBy(["rule_id", "deferred_by", sql`attempts > 0`])
    .orderBy("rule_id")
    .orderBy("next_due_at")
    .execute();
  return rows.map((row) => ({
    ruleId: row.rule_id,
    deferredBy: row.deferred_by === null ? [] : row.deferred_by.split(","),
    retrying: row.retrying,
    count: row.count,
    nextDueAt: new Date(row.next_due_at),
    lastDueAt: new Date(row.last_due_at),
  }));
}
