import { sql, type Kysely } from "kysely";
import { isoTime, jsonRows } from "../db/bulk-sql.ts";
import type { DB } from "../db/schema.ts";
import type { ConversionRule } from "../rules/rule-book.ts";
import type { FeedbackKind } from "../stats/feedback.ts";

/*
 * What the app reports back about a notification, written on its row: received,
 * opened (and by which button), bounced, converted. The notifications' other writes
 * are in outbox, claim and outcome repositories.
 */

export type AttributedFeedback = {
  nudgeId: string;
  kind: FeedbackKind;
  at: Date;
  /** The button tapped, for an open. */
  actionId?: string;
};

/** Action ids longer than this are cut: they come from devices, and are grouped on. */
const MAX_ACTION_ID_LENGTH = 64;

/**
 * Records on each named notification when it was first received, opened or bounced
 * (an open implies it was received), and the button of its first tap on one. Returns
 * the ids that named no notification.
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
    at: isoTime(f.at),
    action: f.actionId?.slice(0, MAX_ACTION_ID_LENGTH) ?? null,
  }));
  const result = await sql<{ notification_id: string }>`
    update notifications n
    set received_at = coalesce(n.received_at, f.received),
      opened_at = coalesce(n.opened_at, f.opened),
      bounced_at = coalesce(n.bounced_at, f.bounced),
      opened_action = coalesce(n.opened_action, f.action),
      updated_at = ${now}
    from (
      select nudge_id,
        min(at) filter (where kind in ('received', 'opened')) as received,
        min(at) filter (where kind = 'opened') as opened,
        min(at) filter (where kind = 'bounced') as bounced,
        (array_agg(action order by at)
          filter (where kind = 'opened' and action is not null))[1] as action
      from ${jsonRows(rows, { nudge_id: "text", kind: "text", at: "timestamptz", action: "text" })}
      group by nudge_id
    ) as f
    where n.notification_id = f.nudge_id
    returning n.notification_id`.execute(db);
  const found = new Set(result.rows.map((r) => r.notification_id));
  return new Set(feedback.map((f) => f.nudgeId).filter((id) => !found.has(id)));
}

export type Conversion = {
  userId: string;
  messageId: string;
  at: Date;
  rules: readonly ConversionRule[];
};

/**
 * Counts each conversion, in order, for its user's most recent notification of each of
 * its rules whose window holds it: opened (or, with `after: "send"`, sent) between
 * `within` before it and it, and not converted yet. Returns how many were converted.
 *
 * One statement per round: a user's conversions for one rule depend on each other (a
 * second order converts the notification before the one the first converted), but
 * not on other users' or rules'. Round n takes every user's n-th conversion for each
 * rule, so a batch usually needs one statement however many users it names.
 */
export async function recordConversions(
  db: Kysely<DB>,
  conversions: readonly Conversion[],
  now: Date,
): Promise<number> {
  const rounds: ConversionRow[][] = [];
  const seen = new Map<string, number>();
  for (const conversion of conversions) {
    for (const rule of conversion.rules) {
      const key = `${conversion.userId}\0${rule.ruleId}`;
      const round = seen.get(key) ?? 0;
      seen.set(key, round + 1);
      (rounds[round] ??= []).push({
        user_id: conversion.userId,
        rule_id: rule.ruleId,
        after_open: rule.after === "open",
        since: isoTime(new Date(conversion.at.getTime() - rule.withinMs)),
        at: isoTime(conversion.at),
        message_id: conversion.messageId,
      });
    }
  }
  let converted = 0;
  for (const round of rounds) converted += await convertRound(db, round, now);
  return converted;
}

type ConversionRow = {
  user_id: string;
  rule_id: string;
  after_open: boolean;
  since: string | null;
  at: string | null;
  message_id: string;
};

/** One round of recordConversions: at most one conversion per user and rule. */
async function convertRound(
  db: Kysely<DB>,
  round: readonly ConversionRow[],
  now: Date,
): Promise<number> {
  const result = await sql`
    update notifications n
    set converted_at = c.at, conversion_message_id = c.message_id,
      updated_at = ${now}
    from ${jsonRows(
      round,
      {
        user_id: "text",
        rule_id: "text",
        after_open: "boolean",
        since: "timestamptz",
        at: "timestamptz",
        message_id: "text",
      },
      "c",
    )}
    cross join lateral (
      select x.notification_id from notifications x
      where x.user_id = c.user_id and x.rule_id = c.rule_id
        and x.converted_at is null
        and case when c.after_open then x.opened_at else x.sent_at end
          between c.since and c.at
      order by case when c.after_open then x.opened_at else x.sent_at end desc
      limit 1) as pick
    where n.user_id = c.user_id and n.notification_id = pick.notification_id`.execute(
    db,
  );
  return Number(result.numAffectedRows ?? 0n);
}
