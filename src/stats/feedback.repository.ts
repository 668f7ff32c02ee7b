import { sql, type Kysely } from "kysely";
import { jsonRows } from "../db/bulk-sql.ts";
import type { DB } from "../db/schema.ts";
import type { ConversionRule } from "../rules/rule-book.ts";
import type { FeedbackKind } from "./feedback.ts";

export type AttributedFeedback = {
  nudgeId: string;
  kind: FeedbackKind;
  at: Date;
};

/**
 * Records on each named notification when it was first received, opened or bounced
 * (an open implies it was received). Returns the ids that named no notification.
 */
export async function recordFeedback(
  db: Kysely<DB>,
  feedback: readonly AttributedFeedback[],
  now: Date,
): Promise<Set<string>> {
  if (feedback.length === 0) return new Set();
  const rows = feedback.map((f) => ({
    nudge_id: f.nudgeId,
    kind: f.kind,
    at: f.at,
  }));
  const result = await sql<{ notification_id: string }>`
    update notifications n
    set received_at = coalesce(n.received_at, f.received),
      opened_at = coalesce(n.opened_at, f.opened),
      bounced_at = coalesce(n.bounced_at, f.bounced),
      updated_at = ${now}
    from (
      select nudge_id,
        min(at) filter (where kind in ('received', 'opened')) as received,
        min(at) filter (where kind = 'opened') as opened,
        min(at) filter (where kind = 'bounced') as bounced
      from ${jsonRows(rows, { nudge_id: "text", kind: "text", at: "timestamptz" })}
      group by nudge_id
    ) as f
    where n.notification_id = f.nudge_id
    returning n.notification_id`.execute(db);
  const found = new Set(result.rows.map((r) => r.notification_id));
  return new Set(feedback.map((f) => f.nudgeId).filter((id) => !found.has(id)));
}

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

/**
 * Counts a conversion for the user's most recent notification of each rule whose
 * window holds the conversion: opened (or, with `after: "send"`, sent) between
 * `within` before it and it, and not converted yet. Returns how many were converted.
 */
export async function recordConversion(
  db: Kysely<DB>,
  conversion: {
    userId: string;
    messageId: string;
    at: Date;
    rules: readonly ConversionRule[];
  },
  now: Date,
): Promise<number> {
  let converted = 0;
  for (const rule of conversion.rules) {
    const anchor = sql.ref(rule.after === "open" ? "opened_at" : "sent_at");
    const since = new Date(conversion.at.getTime() - rule.withinMs);
    const result = await sql`
      update notifications n
      set converted_at = ${conversion.at},
        conversion_message_id = ${conversion.messageId}, updated_at = ${now}
      where (n.user_id, n.notification_id) = (
        select user_id, notification_id from notifications
        where user_id = ${conversion.userId} and rule_id = ${rule.ruleId}
          and converted_at is null
          and ${anchor} >= ${since} and ${anchor} <= ${conversion.at}
        order by ${anchor} desc
        limit 1)`.execute(db);
    converted += Number(result.numAffectedRows ?? 0n);
  }
  return converted;
}
