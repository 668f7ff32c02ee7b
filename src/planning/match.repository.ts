import { sql, type Kysely, type RawBuilder } from "kysely";
import { isoTime, jsonRows } from "../db/bulk-sql.ts";
import type { UserRows } from "../profiles/user-rows.ts";
import type { Selectable } from "kysely";
import {
  MatchStatus,
  type DB,
  type JsonObject,
  type RuleMatchesTable,
} from "../db/schema.ts";

export type NewMatch = {
  matchId: string;
  ruleId: string;
  ruleVersion: string;
  triggerMessageId: string;
  userId: string | null;
  itemKey: string | null;
  event: JsonObject;
  status: MatchStatus;
  triggeredAt: Date;
};

export type Match = NewMatch & {
  cursor: string | null;
  planned: number;
  /** Whether another process held it under a lease that lapsed: it may have written recipients past the cursor. */
  resumed: boolean;
};

const MATCH_COLUMNS = {
  match_id: "text",
  rule_id: "text",
  rule_version: "text",
  trigger_message_id: "text",
  user_id: "text",
  item_key: "text",
  event: "json",
  status: "text",
  triggered_at: "timestamptz",
};

/** Records rule matches; a match already recorded for the same event is skipped. */
export async function insertMatches(
  db: Kysely<DB>,
  matches: readonly NewMatch[],
  now: Date,
): Promise<void> {
  if (matches.length > 0) await insertMatchesSql(matches, now).execute(db);
}

/** `insertMatches` as a statement, for the ingest to write together with profiles. */
export function insertMatchesSql(
  matches: readonly NewMatch[],
  now: Date,
): RawBuilder<unknown> {
  const records = matches.map((m) => ({
    match_id: m.matchId,
    rule_id: m.ruleId,
    rule_version: m.ruleVersion,
    trigger_message_id: m.triggerMessageId,
    user_id: m.userId,
    item_key: m.itemKey,
    event: m.event,
    status: m.status,
    triggered_at: isoTime(m.triggeredAt),
  }));
  return sql`
    insert into rule_matches (match_id, rule_id, rule_version, trigger_message_id, user_id, item_key, event, status, triggered_at, created_at, updated_at)
    select match_id, rule_id, rule_version, trigger_message_id, user_id, item_key, event, status, triggered_at, ${now}::timestamptz, ${now}::timestamptz
    from ${jsonRows(records, MATCH_COLUMNS)}
    order by ord
    on conflict (rule_id, trigger_message_id) do nothing`;
}

/**
 * Takes up to `limit` of the oldest pending matches and locks them for the caller's
 * transaction. Other workers skip them, so a match is expanded by one worker at a time;
 * those the caller leaves alone stay pending when its transaction ends. A match whose
 * pages another process is sending is skipped until that process's lease lapses.
 */
export async function claimPendingMatches(
  db: Kysely<DB>,
  limit: number,
  now: Date,
): Promise<Match[]> {
  const rows = await db
    .selectFrom("rule_matches")
    .selectAll()
    .where("status", "=", MatchStatus.pending)
    .where((eb) =>
      eb.or([eb("claimed_until", "is", null), eb("claimed_until", "<", now)]),
    )
    .orderBy("created_at")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  return rows.map(toMatch);
}

/**
 * Extends the lease this process holds on a match under `token`, locking the match for
 * the transaction that plans its next page; undefined when the lease was lost (it
 * lapsed and another process took the match over).
 */
export async function renewHeldMatch(
  db: Kysely<DB>,
  matchId: string,
  lease: { token: string; until: Date },
  now: Date,
): Promise<Match | undefined> {
  const row = await db
    .updateTable("rule_matches")
    .set({ claimed_until: lease.until, updated_at: now })
    .where("match_id", "=", matchId)
    .where("claimed_by", "=", lease.token)
    .where("status", "=", MatchStatus.pending)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? undefined : toMatch(row);
}

/** Holds a match for this process under `token` until `until`. */
export async function leaseMatch(
  db: Kysely<DB>,
  matchId: string,
  lease: { token: string; until: Date },
  now: Date,
): Promise<void> {
  await db
    .updateTable("rule_matches")
    .set({
      claimed_by: lease.token,
      claimed_until: lease.until,
      updated_at: now,
    })
    .where("match_id", "=", matchId)
    .execute();
}

function toMatch(row: Selectable<RuleMatchesTable>): Match {
  return {
    matchId: row.match_id,
    ruleId: row.rule_id,
    ruleVersion: row.rule_version,
    triggerMessageId: row.trigger_message_id,
    userId: row.user_id,
    itemKey: row.item_key,
    event: row.event,
    status: row.status,
    triggeredAt: row.triggered_at,
    cursor: row.cursor,
    planned: row.planned,
    resumed: row.claimed_by !== null,
  };
}

/** Records matches planned in one go: each expanded (or cancelled), with its count. */
export async function finishMatches(
  db: Kysely<DB>,
  finished: readonly {
    matchId: string;
    status: MatchStatus;
    planned: number;
  }[],
  now: Date,
): Promise<void> {
  if (finished.length === 0) return;
  await sql`
    update rule_matches m
    set status = f.status, planned = f.planned, updated_at = ${now}
    from ${jsonRows(
      finished.map((f) => ({
        match_id: f.matchId,
        status: f.status,
        planned: f.planned,
      })),
      { match_id: "text", status: "text", planned: "integer" },
      "f",
    )}
    where m.match_id = f.match_id`.execute(db);
}

/** Where a match's expansion stands once a page is planned and written. */
export type MatchProgress = {
  cursor: string | null;
  planned: number;
  done: boolean;
};

/**
 * Records one expanded page: where to continue, and whether the audience is done. With
 * a lease, only while this process still holds it (false when it was lost), extended
 * until the match is done; without one, the match is left unheld.
 */
export async function advanceMatch(
  db: Kysely<DB>,
  matchId: string,
  progress: MatchProgress,
  now: Date,
  lease?: { token: string; until: Date },
): Promise<boolean> {
  const held = lease !== undefined && !progress.done;
  let update = db
    .updateTable("rule_matches")
    .set({
      cursor: progress.cursor,
      planned: progress.planned,
      status: progress.done ? MatchStatus.expanded : MatchStatus.pending,
      claimed_by: held ? lease.token : null,
      claimed_until: held ? lease.until : null,
      updated_at: now,
    })
    .where("match_id", "=", matchId);
  if (lease !== undefined)
    update = update.where("claimed_by", "=", lease.token);
  const result = await update.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Gives up a lease this process holds, for another process to go on at once. */
export async function releaseMatch(
  db: Kysely<DB>,
  matchId: string,
  token: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable("rule_matches")
    .set({ claimed_by: null, claimed_until: null, updated_at: now })
    .where("match_id", "=", matchId)
    .where("claimed_by", "=", token)
    .execute();
}

/** Cancels a user's matches of the given rules that are not expanded yet. */
export async function cancelPendingMatches(
  db: Kysely<DB>,
  userId: string,
  ruleIds: readonly string[],
  now: Date,
): Promise<void> {
  await db
    .updateTable("rule_matches")
    .set({ status: MatchStatus.cancelled, updated_at: now })
    .where("user_id", "=", userId)
    .where("rule_id", "in", ruleIds)
    .where("status", "=", MatchStatus.pending)
    .execute();
}

/** A user's rule matches, as a merge moves them and an erasure deletes them. */
export const matchRows: UserRows = {
  async move(db, from, into) {
    await db
      .updateTable("rule_matches")
      .set({ user_id: into })
      .where("user_id", "=", from)
      .execute();
  },
  async erase(db, userId) {
    await db.deleteFrom("rule_matches").where("user_id", "=", userId).execute();
  },
};

/** Deletes up to `limit` rule matches planned or cancelled before `cutoff`. */
export async function deleteSettledMatchesBefore(
  db: Kysely<DB>,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const result = await db
    .deleteFrom("rule_matches")
    .where(
      "match_id",
      "in",
      db
        .selectFrom("rule_matches")
        .select("match_id")
        .where("status", "!=", "pending")
        .where("created_at", "<", cutoff)
        .limit(limit),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
