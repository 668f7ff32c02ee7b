import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import { inTransaction } from "../db/transaction.ts";
import type { Rule, RuleBook } from "../rules/rule-book.ts";
import { lookupsAcrossProcesses, type Lookups } from "./lookups.ts";
import { leaseEnd, planFanOutPage } from "./fan-out-page.ts";
import type { HeldMatch, HeldMatches, HeldPage } from "./held-matches.ts";
import {
  claimPendingMatches,
  renewHeldMatch,
  type Match,
} from "./match.repository.ts";
import { stopMatch } from "./match-control.repository.ts";
import { PAGE_SIZE, type PlanStep, type PlannerDeps } from "./planning-step.ts";
import { oneMatchPerUser, planUserMatches } from "./user-matches.ts";

export {
  DEFAULT_LEASE_MS,
  PAGE_SIZE,
  type PlanStep,
  type PlannerDeps,
} from "./planning-step.ts";

/** Matches of one user each (cart reminders…) planned together in one transaction. */
const USER_MATCH_BATCH = 200;

const IDLE: PlanStep = { planned: false, more: false };

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
  await deps.handoff?.whenRoom(PAGE_SIZE);
  const { step, page, unheld } = await inTransaction(deps.db, (trx) =>
    planNextPage(trx, deps, lookups, held),
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
): Promise<StepResult> {
  const holding = held.next();
  if (holding !== undefined)
    return planHeldPage(trx, deps, lookups, held, holding);
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
    const across = await lookupsAcrossProcesses(
      trx,
      { handoff: deps.handoff, now },
      lookups,
      batch.map((m) => m.userId ?? ""),
      null,
    );
    const dueNow = await planUserMatches(
      trx,
      deps.logger,
      book,
      batch,
      now,
      across,
    );
    return {
      step: { planned: true, dueNow, more: leftBehind(batch.length) },
    };
  }
  const rule = ruleOf(book, match);
  if (rule === undefined)
    return { step: await cancelRemovedRule(trx, deps, match, now) };
  const lease = { token: randomUUID(), outstanding: 0, leased: false };
  const result = await planFanOutPage(trx, deps, lookups, rule, match, {
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
    const step = await cancelRemovedRule(trx, deps, match, now);
    return { step, unheld: match.matchId };
  }
  const at = { ...match, ...holding.next, resumed: holding.resumed };
  const lease = { ...holding, leased: true };
  const result = await planFanOutPage(trx, deps, lookups, rule, at, { lease });
  return result.page === undefined
    ? { ...result, unheld: match.matchId }
    : result;
}

function ruleOf(book: RuleBook, match: Match): Rule | undefined {
  return book.rules.find((r) => r.id === match.ruleId);
}

async function cancelRemovedRule(
  trx: Kysely<DB>,
  deps: PlannerDeps,
  match: Match,
  now: Date,
): Promise<PlanStep> {
  deps.logger.warn(
    { ruleId: match.ruleId, matchId: match.matchId },
    "rule removed before its match was planned",
  );
  await stopMatch(trx, match.matchId, now);
  return { planned: true, dueNow: false, more: true };
}

function lostLease(
  deps: PlannerDeps,
  held: HeldMatches,
  matchId: string,
): PlanStep {
  deps.logger.warn(
    { matchId },
    "lost the lease on a fan-out: it was cancelled, or another process plans it from its last written page",
  );
  held.drop(matchId);
  return { planned: true, dueNow: false, more: true };
}
