import { sql, type Kysely } from "kysely";
import { PREPARE } from "../db/prepared-statements.ts";
import type { DB } from "../db/schema.ts";

/*
 * The order in which writes take their row locks, so that two transactions over
 * overlapping users wait for each other instead of deadlocking:
 *
 *   1. new events, by messageId: only a retry of the same call waits here, and a merge
 *      moving stored events never waits for a new one (it cannot see it);
 *   2. profiles, by user_id: a user's profile row is the lock on everything keyed by
 *      that user (preferences, saved items, aliases, stored events, rule matches);
 *   3. devices, by (platform, token): a token moves between users, so its row is
 *      locked by key, never in the order a scan finds it;
 *   4. the user-keyed rows, then new rule matches.
 *
 * `applyProfileChanges` writes in this order in one statement (`executeTogether` runs
 * its writes in the order listed); the step-by-step ingest locks every profile it will
 * write right after storing its events; a merge or an erasure, many statements, takes
 * the locks of steps 2 and 3 first. What is not ordered (devices taken by several
 * statements of one transaction, notifications written by the planner) is left to the
 * retries of `inTransaction`.
 */

/**
 * The order of keys in bulk writes: JavaScript's string order (UTF-16 code units),
 * the same for every transaction.
 */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The profiles a transaction will write, by whether it may create them. */
export type ProfileLocks = {
  /** Ids it writes under: a missing profile is created (empty) to be locked. */
  create: readonly string[];
  /** Ids it merges away or erases: only an existing profile is locked. */
  existing?: readonly string[];
};

/**
 * Locks the profiles a transaction will write, all at once and in the order
 * `upsertProfilesSql` writes them, before it writes anything else. A profile it would
 * otherwise create later is created now: inserting a row is locking it, and doing so
 * after other locks are held is what deadlocks. (Creating one empty changes nothing a
 * reader sees: the writes that follow fill it, or a merge or erasure deletes it.)
 */
export async function lockProfiles(
  db: Kysely<DB>,
  { create, existing = [] }: ProfileLocks,
  now: Date,
): Promise<void> {
  const creatable = new Set(create);
  const ids = [...new Set([...create, ...existing])].sort(compare);
  if (ids.length === 0) return;
  // ON CONFLICT DO UPDATE locks the existing row even where its WHERE is false.
  await sql`${PREPARE}
    insert into profiles (user_id, created_at, updated_at)
    select ids.id, ${now}::timestamptz, ${now}::timestamptz
    from unnest(${ids}::text[], ${ids.map((id) => creatable.has(id))}::boolean[])
      with ordinality as ids(id, creatable, ord)
    where ids.creatable or exists (select from profiles p where p.user_id = ids.id)
    order by ids.ord
    on conflict (user_id) do update set user_id = excluded.user_id where false`.execute(
    db,
  );
}

/** Locks one existing profile, as `lockProfiles` would: for a transaction of one user. */
export async function lockExistingProfile(
  db: Kysely<DB>,
  userId: string,
): Promise<void> {
  await sql`select from profiles where user_id = ${userId} for update`.execute(
    db,
  );
}

/**
 * Locks the devices of one user by (platform, token), the order `upsertDevicesSql`
 * writes them in: byte order ("C") is JavaScript's order for any token without
 * characters from U+E000 up, which tokens (ASCII) do not hold.
 */
export async function lockDevicesOf(
  db: Kysely<DB>,
  userId: string,
): Promise<void> {
  await sql`
    select device_id from devices where user_id = ${userId}
    order by platform collate "C", token collate "C"
    for update`.execute(db);
}
