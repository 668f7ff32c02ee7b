import { sql, type Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import type { InFlight } from "./handoff.ts";

/*
 * What every process has handed to its delivery unwritten, for the caps and dedupe of
 * planners in other processes: one row per page (migration 0016). Planning takes one
 * lock for the length of a page's transaction, so that of two pages planned at once
 * for the same users, the second sees what the first handed over.
 */

/** The key of the lock that serializes planning across processes. */
const PLANNING_LOCK = 61_730_224_001;

/**
 * Waits for, then holds until the transaction ends, the planning lock; and turns JIT
 * compilation off for the rest of the transaction, in the same round trip. A page's
 * queries after the lock are short index lookups. While a fan-out grows the
 * notifications table faster than autovacuum analyses it, stale statistics inflate
 * their cost estimates past jit_above_cost, and compiling them takes far longer than
 * running them.
 */
export async function lockPlanning(db: Kysely<DB>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${PLANNING_LOCK}::bigint),
    set_config('jit', 'off', true)`.execute(db);
}

export type HandedPage = {
  pageId: string;
  owner: string;
  matchId: string;
  ruleId: string;
  itemKey: string | null;
  /** Its rule's pushes are not counted by settings.frequencyCap (silent ones). */
  uncapped: boolean;
  users: readonly string[];
  /** After this, the page counts for nothing: its process died (its lease's end). */
  until: Date;
};

export async function recordHandedPage(
  db: Kysely<DB>,
  page: HandedPage,
): Promise<void> {
  await db
    .insertInto("handed_pages")
    .values({
      page_id: page.pageId,
      owner: page.owner,
      match_id: page.matchId,
      rule_id: page.ruleId,
      item_key: page.itemKey,
      uncapped: page.uncapped,
      users: [...page.users],
      until: page.until,
    })
    .execute();
}

/** Forgets a page once its notifications are written. */
export async function forgetHandedPage(
  db: Kysely<DB>,
  pageId: string,
): Promise<void> {
  await db.deleteFrom("handed_pages").where("page_id", "=", pageId).execute();
}

/**
 * What processes other than `owner` have in flight for these users, by user. Pages of
 * `exceptMatch` are left out: a match taken over from a process that died is planned
 * again, and its unwritten pushes are the very ones being planned.
 *
 * The other processes' pages are few (each has at most a handful in flight), so they
 * are read whole and their users matched against the page's by a hash join. Array
 * overlap (`users && …`) compares every element of one array with every one of the
 * other: with pages of 1,000 users that took 70 ms of Postgres's CPU per page planned,
 * a fifth of its time in a fan-out.
 */
export async function inFlightElsewhere(
  db: Kysely<DB>,
  owner: string,
  userIds: readonly string[],
  now: Date,
  exceptMatch: string | null,
): Promise<Map<string, InFlight[]>> {
  const byUser = new Map<string, InFlight[]>();
  if (userIds.length === 0) return byUser;
  const { rows } = await sql<{
    user_id: string;
    rule_id: string;
    item_key: string | null;
    uncapped: boolean;
  }>`
    select u.user_id, p.rule_id, p.item_key, p.uncapped
    from handed_pages p
    cross join lateral unnest(p.users) as u (user_id)
    where p.owner <> ${owner} and p.until > ${now}
      and p.match_id is distinct from ${exceptMatch}
      and u.user_id in (select unnest(${userIds}::text[]))`.execute(db);
  for (const row of rows) {
    const list = byUser.get(row.user_id) ?? [];
    list.push({
      ruleId: row.rule_id,
      itemKey: row.item_key,
      uncapped: row.uncapped,
    });
    byUser.set(row.user_id, list);
  }
  return byUser;
}

/** Deletes the pages of processes that died, whose end passed before `cutoff`. */
export async function deleteLapsedHandedPages(
  db: Kysely<DB>,
  cutoff: Date,
): Promise<number> {
  const result = await db
    .deleteFrom("handed_pages")
    .where("until", "<", cutoff)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
