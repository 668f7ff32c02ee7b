import type { Kysely } from "kysely";
import { groupBy } from "../group-by.ts";
import type { DB } from "../db/schema.ts";
import {
  insertNotifications,
  recipientsWritten,
} from "../delivery/outbox.repository.ts";
import { type AudienceMember } from "../delivery/recipient.repository.ts";
import type { Decision } from "../rules/policy.ts";
import type { Rule, RuleBook } from "../rules/rule-book.ts";
import { audiencePage, decidePage } from "./audience-page.ts";
import { lookupsAcrossProcesses, type Lookups } from "./lookups.ts";
import { recordHanded, splitDueNow, type PageSplit } from "./handoff.ts";
import type { HeldPage } from "./held-matches.ts";
import {
  advanceMatch,
  leaseMatch,
  type Match,
  type MatchProgress,
} from "./match.repository.ts";
import { isDueNow, toNotification } from "./planned-notification.ts";
import {
  DEFAULT_LEASE_MS,
  PAGE_SIZE,
  type Planned,
  type PlannerDeps,
} from "./planning-step.ts";

/**
 * Plans one page of a fan-out's audience from `match.cursor`. A match taken over from a
 * process that died skips the recipients already written: that process planned past
 * the cursor before it could move it. When nothing of the page is handed over and no
 * earlier page is still in flight, the match advances in this transaction; otherwise
 * it is leased to this process, and the page is returned to be handed over and
 * recorded in order.
 */
export async function planFanOutPage(
  trx: Kysely<DB>,
  deps: PlannerDeps,
  lookups: Lookups,
  rule: Rule,
  match: Match,
  options: {
    lease: { token: string; outstanding: number; leased: boolean };
  },
): Promise<{ step: Planned; page?: HeldPage }> {
  const now = deps.clock();
  const book = deps.rules.current();
  const { page, members, written } = await pageToPlan(
    trx,
    rule,
    match,
    PAGE_SIZE,
  );
  const { handed, toWrite } = await decideAndSplit(
    trx,
    { ...deps, book, now },
    lookups,
    rule,
    match,
    members,
  );
  const inserted = await insertNotifications(trx, toWrite, now);
  const reservation =
    handed.length === 0 || deps.handoff === undefined
      ? undefined
      : await recordHanded(trx, deps.handoff.owner, {
          match,
          handed,
          until: leaseEnd(deps, now),
        });
  const progress: MatchProgress = {
    cursor: page.cursor,
    // Recipients written past the cursor by a process that died count as planned.
    planned: match.planned + written + inserted.size + handed.length,
    done: page.done,
  };
  const step: Planned = {
    planned: true,
    dueNow: toWrite.some((n) => isDueNow(n, now)),
    more: !page.done,
  };
  return {
    step,
    page: await recordPage(trx, deps, match, options.lease, {
      progress,
      handed,
      reservation,
    }),
  };
}

/**
 * Decides for the page's members, counting what every process has in flight, and
 * splits the notifications into those handed to delivery now and those to write.
 */
async function decideAndSplit(
  trx: Kysely<DB>,
  deps: PlannerDeps & { book: RuleBook; now: Date },
  lookups: Lookups,
  rule: Rule,
  match: Match,
  members: readonly AudienceMember[],
): Promise<PageSplit> {
  const { book, now } = deps;
  const across = await lookupsAcrossProcesses(
    trx,
    { handoff: deps.handoff, now },
    lookups,
    members.map((m) => m.userId),
    match.matchId,
  );
  const decided = await decidePage(
    trx,
    book,
    rule,
    match,
    members,
    now,
    across,
  );
  return splitDueNow(
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
}

/**
 * Moves the match past a page when nothing of it is handed over and no earlier page is
 * in flight; otherwise leases the match to this process and returns the page, to be
 * handed over and recorded in order.
 */
async function recordPage(
  trx: Kysely<DB>,
  deps: PlannerDeps,
  match: Match,
  lease: { token: string; outstanding: number; leased: boolean },
  page: Pick<HeldPage, "progress" | "handed" | "reservation">,
): Promise<HeldPage | undefined> {
  const now = deps.clock();
  if (page.handed.length === 0 && lease.outstanding === 0) {
    await advanceMatch(trx, match.matchId, page.progress, now);
    return undefined;
  }
  if (!lease.leased)
    await leaseMatch(
      trx,
      match.matchId,
      { token: lease.token, until: leaseEnd(deps, now) },
      now,
    );
  const { matchId, resumed } = match;
  return { matchId, token: lease.token, resumed, ...page };
}

/** The next page of the audience, and those of it still to plan. */
async function pageToPlan(
  trx: Kysely<DB>,
  rule: Rule,
  match: Match,
  limit: number,
) {
  const page = await audiencePage(trx, rule, match, match.cursor, limit);
  if (!match.resumed) return { page, members: page.members, written: 0 };
  const written = await recipientsWritten(
    trx,
    match.matchId,
    page.members.map((m) => m.userId),
  );
  const members = page.members.filter((m) => !written.has(m.userId));
  return { page, members, written: written.size };
}

export function leaseEnd(deps: PlannerDeps, now: Date): Date {
  return new Date(now.getTime() + (deps.leaseMs ?? DEFAULT_LEASE_MS));
}
