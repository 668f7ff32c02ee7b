import { sql, type Kysely } from "kysely";
import type { Database } from "../db/database.ts";
import { MatchStatus, type DB } from "../db/schema.ts";
import { inTransaction } from "../db/transaction.ts";
import type { Logger } from "../logger.ts";
import { matchesCondition } from "../rules/condition.ts";
import {
  decideEach,
  type Decision,
  type PlanInput,
  type RecipientFacts,
} from "../rules/policy.ts";
import {
  claimDueNow,
  NOTHING_HANDED_OFF,
  toHandOver,
  type HandedOff,
} from "./handoff.ts";
import type { Handoff } from "../delivery/handoff.ts";
import type { Rule, RuleBook } from "../rules/rule-book.ts";
import type { RuleStore } from "../rules/rule-store.ts";
import {
  advanceMatch,
  claimPendingMatches,
  type Match,
} from "./match.repository.ts";
import {
  anyDueNow,
  insertNotifications,
  toNotification,
} from "./notification.repository.ts";
import {
  listActiveDevices,
  listProfilesPage,
  listSaversPage,
  factsQuery,
  groupBy,
  loadRecipientFacts,
  type AudienceMember,
  type DeviceTarget,
} from "../delivery/recipient.repository.ts";
import { oneMatchPerUser, planUserMatches } from "./user-matches.ts";

export type PlannerDeps = {
  db: Database;
  logger: Logger;
  clock: () => Date;
  rules: RuleStore;
  /** This process's delivery, when it runs: notifications due now go straight to it. */
  handoff?: Handoff | undefined;
};

/** Recipients planned per transaction: large enough for set-based SQL, small enough to stay short. */
export const PAGE_SIZE = 1_000;

/** Matches of one user each (cart reminders…) planned together in one transaction. */
const USER_MATCH_BATCH = 200;

type AudiencePage = {
  members: AudienceMember[];
  cursor: string | null;
  done: boolean;
};

/**
 * What one planning step did: nothing (no match waited), or planned, maybe due now;
 * and whether pending matches are known to be left for the next step.
 */
export type PlanStep =
  | { planned: false; more: false }
  | { planned: true; dueNow: boolean; more: boolean };

const IDLE: PlanStep = { planned: false, more: false };

/**
 * Expands one page of the oldest pending rule match into notifications, in one
 * transaction that also moves the match's cursor: a crash loses nothing and, with the
 * (match, user) key, doubles nothing. `dueNow` says whether any of them is to be sent
 * at once, for delivery to look now rather than at its next poll. `more` says whether
 * matches were left behind (a full claim, a second match of one user, a match of
 * another kind or an unfinished audience): the planner loops at once only then, and
 * otherwise waits for new matches.
 */
export async function expandNextPage(
  deps: PlannerDeps,
  timezoneOf: (zone: string | null) => string,
): Promise<PlanStep> {
  const { step, handedOff } = await inTransaction(deps.db, (trx) =>
    planNextPage(trx, deps, timezoneOf),
  );
  if (handedOff.claimed.length > 0)
    deps.handoff?.take(handedOff.claimed, handedOff.contexts);
  return step;
}

async function planNextPage(
  trx: Kysely<DB>,
  deps: PlannerDeps,
  timezoneOf: (zone: string | null) => string,
): Promise<{ step: PlanStep; handedOff: HandedOff }> {
  const only = (step: PlanStep) => ({ step, handedOff: NOTHING_HANDED_OFF });
  const matches = await claimPendingMatches(trx, USER_MATCH_BATCH);
  const [match] = matches;
  if (match === undefined) return only(IDLE);
  const leftBehind = (handled: number) =>
    matches.length === USER_MATCH_BATCH || handled < matches.length;
  // A page's queries are short index lookups. While a fan-out grows the notifications
  // table faster than autovacuum analyses it, stale statistics inflate their cost
  // estimates past jit_above_cost, and compiling them takes far longer than running them.
  await sql`set local jit = off`.execute(trx);
  const now = deps.clock();
  const book = deps.rules.current();
  if (match.userId !== null) {
    // The oldest match is for its own user: plan it with the others like it.
    const end = matches.findIndex((m) => m.userId === null);
    const leading = end === -1 ? matches : matches.slice(0, end);
    const batch = oneMatchPerUser(leading);
    const dueNow = await planUserMatches(
      trx,
      deps.logger,
      book,
      batch,
      now,
      timezoneOf,
    );
    return only({ planned: true, dueNow, more: leftBehind(batch.length) });
  }
  const rule = book.rules.find((r) => r.id === match.ruleId);
  if (rule === undefined) {
    deps.logger.warn(
      { ruleId: match.ruleId, matchId: match.matchId },
      "rule removed before its match was planned",
    );
    await trx
      .updateTable("rule_matches")
      .set({ status: MatchStatus.cancelled, updated_at: now })
      .where("match_id", "=", match.matchId)
      .execute();
    return only({ planned: true, dueNow: false, more: leftBehind(1) });
  }
  const page = await audiencePage(trx, rule, match, match.cursor, PAGE_SIZE);
  const planned = await planPage(
    trx,
    book,
    rule,
    match,
    page.members,
    now,
    timezoneOf,
  );
  const devicesOf = groupBy(planned.devices, (d) => d.userId);
  const notifications = claimDueNow(
    page.members.map((member, index) =>
      toNotification(match, rule, member, planned.decisions[index] as Decision),
    ),
    devicesOf,
    deps.handoff,
    now,
  );
  const inserted = await insertNotifications(trx, notifications, now);
  await advanceMatch(
    trx,
    match.matchId,
    {
      cursor: page.cursor,
      planned: match.planned + inserted.size,
      done: page.done,
    },
    now,
  );
  return {
    step: {
      planned: true,
      dueNow: anyDueNow(notifications, now),
      more: leftBehind(page.done ? 1 : 0),
    },
    handedOff: toHandOver(
      notifications,
      inserted,
      { rule, settings: book.settings, now },
      { facts: planned.facts, devicesOf },
    ),
  };
}

/** A page's decisions, member by member, with the facts and devices they rest on. */
export type PlannedPage = {
  decisions: Decision[];
  facts: RecipientFacts[];
  devices: DeviceTarget[];
};

/** Decides for each member of a page; used by expansion and by the dry-run preview. */
export async function planPage(
  db: Kysely<DB>,
  book: RuleBook,
  rule: Rule,
  match: Pick<Match, "event" | "itemKey" | "triggeredAt">,
  members: readonly AudienceMember[],
  now: Date,
  timezoneOf: (zone: string | null) => string,
): Promise<PlannedPage> {
  const devices = await listActiveDevices(
    db,
    members.map((m) => m.userId),
  );
  const facts = await loadRecipientFacts(
    db,
    members,
    factsQuery(rule, book.settings, match.itemKey, now),
    devices,
  );
  const input: PlanInput = {
    rule,
    settings: book.settings,
    event: match.event,
    triggeredAt: match.triggeredAt,
    timezoneOf,
  };
  return { decisions: decideEach(input, facts), facts, devices };
}

/** The next page of a rule's audience after `cursor`, in user_id order. */
export async function audiencePage(
  db: Kysely<DB>,
  rule: Rule,
  match: Pick<Match, "userId" | "itemKey">,
  cursor: string | null,
  limit: number,
): Promise<AudiencePage> {
  const audience = rule.audience;
  switch (audience.kind) {
    case "user":
      return {
        members:
          match.userId === null
            ? []
            : [{ userId: match.userId, item: undefined }],
        cursor: null,
        done: true,
      };
    case "collection": {
      if (match.itemKey === null)
        return { members: [], cursor: null, done: true };
      const members = await listSaversPage(
        db,
        audience.collection,
        match.itemKey,
        cursor,
        limit,
      );
      return {
        members,
        cursor: members.at(-1)?.userId ?? cursor,
        done: members.length < limit,
      };
    }
    case "where": {
      const profiles = await listProfilesPage(db, cursor, limit);
      const members = profiles
        .filter((p) =>
          matchesCondition(audience.condition, {
            type: "identify",
            userId: p.userId,
            traits: p.traits,
            context: { locale: p.locale, timezone: p.timezone },
          }),
        )
        .map((p) => ({ userId: p.userId, item: undefined }));
      return {
        members,
        cursor: profiles.at(-1)?.userId ?? cursor,
        done: profiles.length < limit,
      };
    }
  }
}
