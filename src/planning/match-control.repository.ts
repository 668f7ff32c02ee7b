import type { Kysely, Selectable } from "kysely";
import { MatchStatus, type DB, type RuleMatchesTable } from "../db/schema.ts";

/*
 * A rule match as an operator sees and steers it through the admin API: found by its
 * id or by the event that triggered it, and stopped.
 */

/** A rule match as the admin API shows it. */
export type MatchRecord = {
  matchId: string;
  ruleId: string;
  ruleVersion: string;
  messageId: string;
  userId: string | null;
  itemKey: string | null;
  status: MatchStatus;
  /** Recipients planned so far: the audience size so far, while it is being planned. */
  planned: number;
  triggeredAt: Date;
  updatedAt: Date;
};

export async function findMatch(
  db: Kysely<DB>,
  matchId: string,
): Promise<MatchRecord | undefined> {
  const row = await db
    .selectFrom("rule_matches")
    .selectAll()
    .where("match_id", "=", matchId)
    .executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** The match an event made of a rule: one at most, by the (rule, messageId) key. */
export async function findMatchOfTrigger(
  db: Kysely<DB>,
  ruleId: string,
  messageId: string,
): Promise<MatchRecord | undefined> {
  const row = await db
    .selectFrom("rule_matches")
    .selectAll()
    .where("rule_id", "=", ruleId)
    .where("trigger_message_id", "=", messageId)
    .executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/**
 * Marks a match cancelled unless it already is, and drops its lease: the process
 * planning it finds its lease gone at its next page and stops (see `renewHeldMatch`,
 * `advanceMatch`). A page being planned holds the match's row, so this waits for that
 * page to be written, and what it wrote is then there to cancel. Returns whether the
 * match was stopped now.
 */
export async function stopMatch(
  db: Kysely<DB>,
  matchId: string,
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("rule_matches")
    .set({
      status: MatchStatus.cancelled,
      claimed_by: null,
      claimed_until: null,
      updated_at: now,
    })
    .where("match_id", "=", matchId)
    .where("status", "<>", MatchStatus.cancelled)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

function toRecord(row: Selectable<RuleMatchesTable>): MatchRecord {
  return {
    matchId: row.match_id,
    ruleId: row.rule_id,
    ruleVersion: row.rule_version,
    messageId: row.trigger_message_id,
    userId: row.user_id,
    itemKey: row.item_key,
    status: row.status,
    planned: row.planned,
    triggeredAt: row.triggered_at,
    updatedAt: row.updated_at,
  };
}
