import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { Database } from "../db/database.ts";
import { MatchStatus, type DB } from "../db/schema.ts";
import { inTransaction } from "../db/transaction.ts";
import type { Handoff, HandedNotification } from "../delivery/handoff.ts";
import {
  insertNotifications,
  recipientsWritten,
} from "../delivery/outbox.repository.ts";
import { groupBy } from "../delivery/recipient.repository.ts";
import type { Logger } from "../logger.ts";
import type { Decision } from "../rules/policy.ts";
import type { Rule, RuleBook } from "../rules/rule-book.ts";
import type { RuleStore } from "../rules/rule-store.ts";
import { audiencePage, decidePage, type Lookups } from "./audience-page.ts";
import { splitDueNow } from "./handoff.ts";
import type { HeldMatch, HeldMatches, HeldPage } from "./held-matches.ts";
import {
  advanceMatch,
  claimPendingMatches,
  leaseMatch,
  renewHeldMatch,
  type Match,
  type MatchProgress,
} from "./match.repository.ts";
import { isDueNow, toNotification } from "./planned-notification.ts";
import { oneMatchPerUser, planUserMatches } from "./user-matches.ts";

export type PlannerDeps = {
  db: Database;
  logger: Logger;
  clock: () => Date;
  rules: RuleStore;
  /** This process's delivery, when it runs: notifications due now go straight to it. */
  handoff?: Handoff | undefined;
  /** How long a fan-out stays held by this process without news from it. */
  leaseMs?: number | undefined;
};

/** Recipients planned per transaction: large enough for set-based SQL, small enough to stay short. */
export const PAGE_SIZE = 1_000;

/** The smallest page planned to fit delivery's room: below it, transactions dominate. */
const MIN_HANDED_PAGE = 100;

/** A fan-out's lease when the deps name none: the delivery lease's default. */
export const DEFAULT_LEASE_MS = 60_000;

/** Matches of one user each (cart reminders…) planned together in one transaction. */
const USER_MATCH_BATCH = 200;

/**
 * What one planning step did: nothing (no match waited), or planned, maybe due now;
 * and whether pending matches are known to be left for the next step.
 */
export type PlanStep =
  | { planned: false; more: false }
  | { planned: true; dueNow: boolean; more: boolean };

const IDLE: PlanStep = { planned: false, more: false };

type Planned = Extract<PlanStep, { planned: true }>;

/**
 * A step's result, with the fan-out page to hand over once its transaction commits, or
 * the held match it advanced without a lease.
 */
type StepResult = {
  step: PlanStep;
  page?: HeldPage | undefined;
  unheld?: string | undefined;
};

/**
 * Plans the next page of a fan-out this process holds, or else of the oldest pending
 * rule match, in one transaction. Notifications that wait, or are suppressed, are
 * written with the page; those due now that delivery has room for are handed to it
 * unwritten (see Handoff), and the match is then held under a lease: its cursor moves
 * past a page only once the page's outcomes are written, so a crash plans the page
 * again and repeats at most the pushes that were in flight. `dueNow` says whether a
 * written notification is to be sent at once, for delivery to look now. `more` says
 * whether work was left behind: the planner loops at once only then.
 */
export async function expandNextPage(
  deps: PlannerDeps,
  lookups: Lookups,
  held: HeldMatches,
): Promise<PlanStep> {
  const room = (await deps.handoff?.whenRoom(PAGE_SIZE)) ?? 0;
  const pageSize =
    room > 0 ? Math.min(PAGE_SIZE, Math.max(room, MIN_HANDED_PAGE)) : PAGE_SIZE;
  const { step, page, unheld } = await inTransaction(deps.db, (trx) =>
    planNextPage(trx, deps, lookups, held, pageSize),
  );
  if (page !== undefined) held.afterCommit(page, deps.handoff);
  if (unheld !== undefined) held.drop(unheld);
  return step;
}

async function planNextPage(
  trx: Kysely<DB>,
  deps: PlannerDeps,
  lookups: Lookups,
  held: HeldMatches,
  pageSize: number,
): Promise<StepResult> {
  // A page's queries are short index lookups. While a fan-out grows the notifications
  // table faster than autovacuum analyses it, stale statistics inflate their cost
  // estimates past jit_above_cost, and compiling them takes far longer than running them.
  await sql`set local jit = off`.execute(trx);
  const holding = held.next();
  if (holding !== undefined)
    return planHeldPage(trx, deps, lookups, held, holding, pageSize);
  const now = deps.clock();
  const book = deps.rules.current();
  const matches = await claimPendingMatches(trx, USER_MATCH_BATCH, now);
  const [match] = matches;
  if (match === undefined) return { step: IDLE };
  const leftBehind = (handled: number) =>
    matches.length === USER_MATCH_BATCH || handled < matches.length;
  if (match.userId !== null) {
    // The oldest match is for its own user: plan it with the others like it.
    const end = matches.findIndex((m) => m.userId === null);
    const batch = oneMatchPerUser(end === -1 ? matches : matches.slice(0, end));
    const dueNow = await planUserMatches(
      trx,
      deps.logger,
      book,
      batch,
      now,
      lookups,
    );
    return {
      step: { planned: true, dueNow, more: leftBehind(batch.length) },
    };
  }
  const rule = ruleOf(book, match);
  if (rule === undefined)
    return { step: await cancelMatch(trx, deps, match, now) };
  const lease = { token: randomUUID(), outstanding: 0, leased: false };
  const result = await planFanOutPage(trx, deps, lookups, rule, match, {
    pageSize,
    lease,
  });
  return {
    ...result,
    step: { ...result.step, more: result.step.more || leftBehind(1) },
  };
}

/** Plans the next page of a fan-out this process holds, from where its last page ended. */
async function planHeldPage(
  trx: Kysely<DB>,
  deps: PlannerDeps,
  lookups: Lookups,
  held: HeldMatches,
  holding: HeldMatch,
  pageSize: number,
): Promise<StepResult> {
  const now = deps.clock();
  const match = await renewHeldMatch(
    trx,
    holding.matchId,
    { token: holding.token, until: leaseEnd(deps, now) },
    now,
  );
  if (match === undefined)
    return { step: lostLease(deps, held, holding.matchId) };
  const rule = ruleOf(deps.rules.current(), match);
  if (rule === undefined) {
    const step = await cancelMatch(trx, deps, match, now);
    return { step, unheld: match.matchId };
  }
  const at = { ...match, ...holding.next, resumed: holding.resumed };
  const lease = { ...holding, leased: true };
  const result = await planFanOutPage(trx, deps, lookups, rule, at, {
    pageSize,
    lease,
  });
  return result.page === undefined
    ? { ...result, unheld: match.matchId }
    : result;
}

/**
 * Plans one page of a fan-out's audience from `match.cursor`. A match taken over from a
 * process that died skips the recipients already written: that process planned past
 * the cursor before it could move it. When nothing of the page is handed over and no
 * earlier page is still in flight, the match advances in this transaction; otherwise
 * it is leased to this process, and the page is returned to be handed over and
 * recorded in order.
 */
async function planFanOutPage(
  trx: Kysely<DB>,
  deps: PlannerDeps,
  lookups: Lookups,
  rule: Rule,
  match: Match,
  options: {
    pageSize: number;
    lease: { token: string; outstanding: number; leased: boolean };
  },
): Promise<{ step: Planned; page?: HeldPage }> {
  const { lease } = options;
  const now = deps.clock();
  const book = deps.rules.current();
  const page = await audiencePage(
    trx,
    rule,
    match,
    match.cursor,
    options.pageSize,
  );
  const written = match.resumed
    ? await recipientsWritten(
        trx,
        match.matchId,
        page.members.map((m) => m.userId),
      )
    : new Set<string>();
  const members = page.members.filter((m) => !written.has(m.userId));
  const decided = await decidePage(
    trx,
    book,
    rule,
    match,
    members,
    now,
    lookups,
  );
  const { handed, toWrite } = splitDueNow(
    members.map((member, index) =>
      toNotification(match, rule, member, decided.decisions[index] as Decision),
    ),
    {
      facts: decided.facts,
      devicesOf: groupBy(decided.devices, (d) => d.userId),
    },
    deps.handoff,
    { rule, settings: book.settings, now },
  );
  const inserted = await insertNotifications(trx, toWrite, now);
  const progress: MatchProgress = {
    cursor: page.cursor,
    // Recipients written past the cursor by a process that died count as planned.
    planned: match.planned + written.size + inserted.size + handed.length,
    done: page.done,
  };
  const step: Planned = {
    planned: true,
    dueNow: toWrite.some((n) => isDueNow(n, now)),
    more: !page.done,
  };
  if (handed.length === 0 && lease.outstanding === 0) {
    await advanceMatch(trx, match.matchId, progress, now);
    return { step };
  }
  if (!lease.leased)
    await leaseMatch(
      trx,
      match.matchId,
      { token: lease.token, until: leaseEnd(deps, now) },
      now,
    );
  return {
    step,
    page: {
      matchId: match.matchId,
      token: lease.token,
      resumed: match.resumed,
      progress,
      handed,
    },
  };
}

function leaseEnd(deps: PlannerDeps, now: Date): Date {
  return new Date(now.getTime() + (deps.leaseMs ?? DEFAULT_LEASE_MS));
}

function ruleOf(book: RuleBook, match: Match): Rule | undefined {
  return book.rules.find((r) => r.id === match.ruleId);
}

async function cancelMatch(
  trx: Kysely<DB>,
  deps: PlannerDeps,
  match: Match,
  now: Date,
): Promise<PlanStep> {
  deps.logger.warn(
    { ruleId: match.ruleId, matchId: match.matchId },
    "rule removed before its match was planned",
  );
  await trx
    .updateTable("rule_matches")
    .set({
      status: MatchStatus.cancelled,
      claimed_by: null,
      claimed_until: null,
      updated_at: now,
    })
    .where("match_id", "=", match.matchId)
    .execute();
  return { planned: true, dueNow: false, more: true };
}

function lostLease(
  deps: PlannerDeps,
  held: HeldMatches,
  matchId: string,
): PlanStep {
  deps.logger.warn(
    { matchId },
    "lost the lease on a fan-out: another process plans it from its last written page",
  );
  held.drop(matchId);
  return { planned: true, dueNow: false, more: true };
}

export type { HandedNotification };
