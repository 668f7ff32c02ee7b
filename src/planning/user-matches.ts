import { createPayloadCheck } from "./payload-check.ts";
import type { Kysely } from "kysely";
import { MatchStatus, type DB } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import { decideEach } from "../rules/policy.ts";
import type { Rule, RuleBook } from "../rules/rule-book.ts";
import { promotedVariants } from "../stats/auto-winner.service.ts";
import { finishMatches, type Match } from "./match.repository.ts";
import {
  insertNotifications,
  type NewNotification,
} from "../delivery/outbox.repository.ts";
import { withInFlight } from "../delivery/in-flight.ts";
import type { Lookups } from "./lookups.ts";
import { withOpenHistories } from "./send-time-facts.ts";
import { isDueNow, toNotification } from "./planned-notification.ts";
import {
  factsQuery,
  loadRecipientFacts,
} from "../delivery/recipient.repository.ts";

/**
 * Of matches whose audience is their own user, the ones that can be planned together:
 * in order, one per user. A user's caps and dedupe count what was planned for them
 * before, so a second match of the same user waits for the next batch, which sees the
 * first one's notification.
 */
export function oneMatchPerUser(matches: readonly Match[]): Match[] {
  const users = new Set<string>();
  return matches.filter((match) => {
    if (match.userId === null || users.has(match.userId)) return false;
    users.add(match.userId);
    return true;
  });
}

type Finished = { matchId: string; status: MatchStatus; planned: number };

/**
 * The matches by rule (and item, for a rule with dedupe: it looks for notifications of
 * the same item), and those of rules removed meanwhile, cancelled.
 */
function groupByRule(
  logger: Logger,
  book: RuleBook,
  matches: readonly Match[],
): {
  groups: Map<string, { rule: Rule; matches: Match[] }>;
  finished: Finished[];
} {
  const rules = new Map(book.rules.map((rule) => [rule.id, rule]));
  const groups = new Map<string, { rule: Rule; matches: Match[] }>();
  const finished: Finished[] = [];
  for (const match of matches) {
    const rule = rules.get(match.ruleId);
    if (rule === undefined) {
      logger.warn(
        { ruleId: match.ruleId, matchId: match.matchId },
        "rule removed before its match was planned",
      );
      finished.push({
        matchId: match.matchId,
        status: MatchStatus.cancelled,
        planned: 0,
      });
      continue;
    }
    const key = `${rule.id}\0${rule.delivery.dedupe === undefined ? "" : (match.itemKey ?? "")}`;
    const group = groups.get(key) ?? { rule, matches: [] };
    group.matches.push(match);
    groups.set(key, group);
  }
  return { groups, finished };
}

/**
 * Plans many matches of one user each in the caller's transaction: a cart reminder per
 * `Product Added` arrives one match at a time, and planning each in a transaction of
 * its own costs as many round trips as a page of a thousand recipients. The facts are
 * loaded once per rule (and item, for rules with dedupe), the notifications written
 * in one statement. Returns whether any of them is due now.
 */
export async function planUserMatches(
  db: Kysely<DB>,
  logger: Logger,
  book: RuleBook,
  matches: readonly Match[],
  now: Date,
  lookups: Lookups,
): Promise<boolean> {
  const { groups, finished } = groupByRule(logger, book, matches);
  // One read for the batch: the variants that tests promoted, of its rules that test.
  const winners = await promotedVariants(
    db,
    [...groups.values()].map((g) => g.rule),
  );
  const context: BatchContext = { db, book, now, lookups, winners };
  const planned: Planned = { notifications: [], finished };
  for (const { rule, matches: group } of groups.values())
    await planGroup(context, rule, group, planned);
  const { notifications } = planned;
  await insertNotifications(db, notifications, now);
  await finishMatches(db, finished, now);
  return notifications.some((n) => isDueNow(n, now));
}

/** What every group of a batch is planned with. */
type BatchContext = {
  db: Kysely<DB>;
  book: RuleBook;
  now: Date;
  lookups: Lookups;
  /** The variants that tests promoted, by rule. */
  winners: Map<string, string>;
};

/** What a batch has planned so far, written together once every group is decided. */
type Planned = { notifications: NewNotification[]; finished: Finished[] };

/**
 * Decides the matches of one rule (and item): their users' facts are loaded in one
 * read, and each match that yields a notification is planned and finished.
 */
async function planGroup(
  context: BatchContext,
  rule: Rule,
  group: readonly Match[],
  planned: Planned,
): Promise<void> {
  const { db, book, now, lookups, winners } = context;
  const members = group.map((m) => ({
    userId: m.userId ?? "",
    item: undefined,
  }));
  const query = factsQuery(rule, book.settings, group[0]?.itemKey ?? null, now);
  const { facts, appOpenHours } = await withOpenHistories(
    db,
    rule,
    book.settings,
    withInFlight(
      await loadRecipientFacts(db, members, query),
      query,
      lookups.inFlightOf,
    ),
    now,
    lookups.timezoneOf,
  );
  group.forEach((match, index) => {
    const member = members[index];
    const recipient = facts[index];
    if (member === undefined || recipient === undefined) return;
    const [decision] = decideEach(
      {
        matchId: match.matchId,
        rule,
        settings: book.settings,
        event: match.event,
        triggeredAt: match.triggeredAt,
        timezoneOf: lookups.timezoneOf,
        winner: winners.get(rule.id),
        oversize: createPayloadCheck(rule.id),
        appOpenHours,
      },
      [recipient],
    );
    if (decision === undefined) return;
    planned.notifications.push(toNotification(match, rule, member, decision));
    planned.finished.push({
      matchId: match.matchId,
      status: MatchStatus.expanded,
      planned: 1,
    });
  });
}
