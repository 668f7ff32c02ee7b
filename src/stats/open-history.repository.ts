import { sql, type Kysely } from "kysely";
import type { DB } from "../db/schema.ts";

/*
 * When users open pushes, as a learned send time reads it (rules/send-time.ts): each
 * user's opens and a sample of the whole app's, in quarter hours. A quarter hour is
 * the finest step of any timezone's offset (Nepal, +05:45), so every open keeps its
 * local hour wherever its user lives, while a user's opens fold into a few rows.
 * The local hour itself is worked out by the caller, with the same timezone data as
 * the delivery window it is placed in (the runtime's, which PostgreSQL's may not match
 * name for name).
 */

const QUARTER_SECONDS = 900;
const quarterOf = (column: string) =>
  sql`to_timestamp(floor(extract(epoch from ${sql.ref(column)}) / ${QUARTER_SECONDS}) * ${QUARTER_SECONDS})`;

/** The opens of `userIds` since `since`, by user and quarter hour: one round trip. */
export async function listOpenHistories(
  db: Kysely<DB>,
  userIds: readonly string[],
  since: Date,
): Promise<Map<string, { at: Date; count: number }[]>> {
  const histories = new Map<string, { at: Date; count: number }[]>();
  if (userIds.length === 0) return histories;
  // One range of notifications_user_opened_idx per user (`offset 0` keeps the
  // subquery from being flattened into a join the planner may scan instead). For a
  // page of 1,000 users it read a seventh of the buffers that caps and dedupe's
  // (user_id, created_at) index did, since it holds opened notifications only.
  const { rows } = await sql<{ user_id: string; at: Date; count: number }>`
    select u.user_id, o.at, o.count
    from unnest(${userIds}::text[]) as u (user_id)
    cross join lateral (
      select ${quarterOf("n.opened_at")} as at, count(*)::int as count
      from notifications n
      where n.user_id = u.user_id and n.opened_at is not null
        and n.opened_at > ${since}
      group by 1
      offset 0
    ) as o`.execute(db);
  for (const row of rows) {
    const list = histories.get(row.user_id) ?? [];
    list.push({ at: new Date(row.at), count: row.count });
    histories.set(row.user_id, list);
  }
  return histories;
}

/**
 * The app's latest `limit` opens since `since`, by their user's timezone and quarter
 * hour. A sample of fixed size: it finds the app's peak hour as well as all of them
 * would, at a cost that does not grow with the app, read once per page planned: the
 * newest opens backwards on notifications_opened_idx, and each one's profile by its key
 * (a join would hash every profile of the app).
 */
export async function listAppOpens(
  db: Kysely<DB>,
  since: Date,
  limit: number,
): Promise<{ timezone: string | null; at: Date; count: number }[]> {
  const { rows } = await sql<{
    timezone: string | null;
    at: Date;
    count: number;
  }>`
    select p.timezone, ${quarterOf("o.opened_at")} as at, count(*)::int as count
    from (
      select user_id, opened_at from notifications
      where opened_at is not null and opened_at > ${since}
      order by opened_at desc
      limit ${limit}
    ) as o
    left join lateral (
      select timezone from profiles p where p.user_id = o.user_id offset 0
    ) as p on true
    group by 1, 2`.execute(db);
  return rows.map((row) => ({ ...row, at: new Date(row.at) }));
}
