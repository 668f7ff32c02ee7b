import { sql, type Kysely } from "kysely";
import { jsonRows } from "../db/bulk-sql.ts";
import type { DB } from "../db/schema.ts";
import type { SegmentEvent } from "./segment-event.schema.ts";

export type EventRow = { event: SegmentEvent; userId: string };

const EVENT_COLUMNS = {
  message_id: "text",
  user_id: "text",
  type: "text",
  event: "text",
  payload: "jsonb",
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
    timestamp: event.timestamp,
  }));
  const { rows: inserted } = await sql<{ message_id: string }>`
    insert into events (message_id, user_id, type, event, payload, timestamp, received_at)
    select message_id, user_id, type, event, payload, timestamp, ${receivedAt}::timestamptz
    from ${jsonRows(records, EVENT_COLUMNS)}
    order by ord
    on conflict (message_id) do nothing
    returning message_id`.execute(db);
  return new Set(inserted.map((row) => row.message_id));
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
