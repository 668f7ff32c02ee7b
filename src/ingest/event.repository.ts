import { sql, type Kysely, type RawBuilder } from "kysely";
import { isoTime, jsonRows } from "../db/bulk-sql.ts";
import type { DB } from "../db/schema.ts";
import { sqlState } from "../db/transaction.ts";
import type { UserRows } from "../profiles/user-rows.ts";
import type { SegmentEvent } from "../segment-event.ts";

export type EventRow = { event: SegmentEvent; userId: string };

const EVENT_COLUMNS = {
  message_id: "text",
  user_id: "text",
  type: "text",
  event: "text",
  payload: "json",
  timestamp: "timestamptz",
};

/**
 * Stores events, skipping any whose messageId is already stored, and returns the ids
 * that were new. Under concurrent retries of one message the unique key makes the
 * second insert wait for the first and then skip, so exactly one of them is new.
 */
export async function insertNewEvents(
  db: Kysely<DB>,
  rows: readonly EventRow[],
  receivedAt: Date,
): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const { rows: inserted } = await sql<{ message_id: string }>`
    ${insertEventsSql(rows, receivedAt)}
    on conflict (message_id) do nothing
    returning message_id`.execute(db);
  return new Set(inserted.map((row) => row.message_id));
}

/**
 * Stores events that must all be new: one whose messageId is stored already (or being
 * stored by a concurrent transaction that commits) fails the whole statement with
 * `isStoredEventConflict`. For writing events together with what they imply.
 */
export function insertEventsSql(
  rows: readonly EventRow[],
  receivedAt: Date,
): RawBuilder<unknown> {
  // Sorted so that concurrent batches sharing messageIds take their locks in one order.
  const sorted = [...rows].sort((a, b) =>
    a.event.messageId < b.event.messageId
      ? -1
      : a.event.messageId > b.event.messageId
        ? 1
        : 0,
  );
  const records = sorted.map(({ event, userId }) => ({
    message_id: event.messageId,
    user_id: userId,
    type: event.type,
    event: event.event ?? event.name ?? null,
    payload: event.payload,
    timestamp: isoTime(event.timestamp),
  }));
  return sql`
    insert into events (message_id, user_id, type, event, payload, timestamp, received_at)
    select message_id, user_id, type, event, payload, timestamp, ${receivedAt}::timestamptz
    from ${jsonRows(records, EVENT_COLUMNS)}
    order by ord`;
}

/** Whether `error` is the unique violation of an event stored twice (SQLSTATE 23505). */
export function isStoredEventConflict(error: unknown): boolean {
  if (sqlState(error) !== "23505") return false;
  const constraint =
    typeof error === "object" && error !== null && "constraint" in error
      ? error.constraint
      : undefined;
  return constraint === undefined || constraint === "events_pkey";
}

/** Deletes events received before `cutoff`, at most `limit` at a time; returns how many. */
export async function deleteEventsBefore(
  db: Kysely<DB>,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const result = await db
    .deleteFrom("events")
    .where(
      "message_id",
      "in",
      db
        .selectFrom("events")
        .select("message_id")
        .where("received_at", "<", cutoff)
        .limit(limit),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * The owner of an erased user's events: what is left of them is their messageId, so
 * that a retry of one, which Segment may send after the erasure, is still a duplicate
 * and brings nothing back. They go with the retention sweep, like any event.
 */
export const ERASED_USER = "";

/** A user's stored events, as a merge moves them and an erasure empties them. */
export const eventRows: UserRows = {
  async move(db, from, into) {
    await db
      .updateTable("events")
      .set({ user_id: into })
      .where("user_id", "=", from)
      .execute();
  },
  async erase(db, userId, keepEvent) {
    let events = db
      .updateTable("events")
      .set({ user_id: ERASED_USER, event: null, payload: sql`'{}'::json` })
      .where("user_id", "=", userId);
    if (keepEvent !== undefined)
      events = events.where("message_id", "!=", keepEvent);
    await events.execute();
  },
};
