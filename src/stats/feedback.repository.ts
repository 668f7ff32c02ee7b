import { sql, type Kysely } from "kysely";
import { jsonRows } from "../db/bulk-sql.ts";
import type { DB } from "../db/schema.ts";

/** Counts feedback events that name no notification, per day and event name. */
export async function countUnattributed(
  db: Kysely<DB>,
  events: readonly { event: string; at: Date }[],
): Promise<void> {
  if (events.length === 0) return;
  const counts = new Map<
    string,
    { day: string; event: string; count: number }
  >();
  for (const { event, at } of events) {
    const day = at.toISOString().slice(0, 10);
    const key = `${day}\0${event}`;
    const entry = counts.get(key) ?? { day, event, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  await sql`
    insert into unattributed_feedback as u (day, event, count)
    select day, event, count
    from ${jsonRows([...counts.values()], { day: "date", event: "text", count: "integer" })}
    order by ord
    on conflict (day, event) do update set count = u.count + excluded.count`.execute(
    db,
  );
}

/** Deletes the counts of unattributed feedback of the days before `cutoff`'s. */
export async function deleteUnattributedFeedbackBefore(
  db: Kysely<DB>,
  cutoff: Date,
): Promise<void> {
  await db
    .deleteFrom("unattributed_feedback")
    .where("day", "<", cutoff.toISOString().slice(0, 10))
    .execute();
}
