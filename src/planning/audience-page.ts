import { createPayloadCheck } from "./payload-check.ts";
import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import {
  factsQuery,
  listActiveDevices,
  listProfilesPage,
  listSaversPage,
  loadRecipientFacts,
  type AudienceMember,
  type DeviceTarget,
} from "../delivery/recipient.repository.ts";
import { matchesCondition } from "../rules/condition.ts";
import {
  deciderFor,
  type Decision,
  type DecisionInput,
  type RecipientFacts,
} from "../rules/policy.ts";
import type { Rule, RuleBook } from "../rules/rule-book.ts";
import { promotedVariants } from "../stats/auto-winner.service.ts";
import { withInFlight } from "../delivery/in-flight.ts";
import { mapInTurns } from "../in-turns.ts";
import type { Lookups } from "./lookups.ts";
import { withOpenHistories } from "./send-time-facts.ts";
import type { Match } from "./match.repository.ts";

type AudiencePage = {
  members: AudienceMember[];
  cursor: string | null;
  done: boolean;
};

/** A page's decisions, member by member, with the facts and devices they rest on. */
export type PageDecisions = {
  decisions: Decision[];
  facts: RecipientFacts[];
  devices: DeviceTarget[];
};

/** Decides for each member of a page; used by expansion and by the dry-run preview. */
export async function decidePage(
  db: Kysely<DB>,
  book: RuleBook,
  rule: Rule,
  match: Pick<Match, "matchId" | "event" | "itemKey" | "triggeredAt">,
  members: readonly AudienceMember[],
  now: Date,
  lookups: Lookups,
): Promise<PageDecisions> {
  const devices = await listActiveDevices(
    db,
    members.map((m) => m.userId),
  );
  const query = factsQuery(rule, book.settings, match.itemKey, now);
  const { facts, appOpenHours } = await withOpenHistories(
    db,
    rule,
    book.settings,
    withInFlight(
      await loadRecipientFacts(db, members, query, devices),
      query,
      lookups.inFlightOf,
    ),
    now,
    lookups.timezoneOf,
  );
  const input: DecisionInput = {
    matchId: match.matchId,
    rule,
    settings: book.settings,
    event: match.event,
    triggeredAt: match.triggeredAt,
    timezoneOf: lookups.timezoneOf,
    // Once per page: the whole page gets the variant a test promoted, if any.
    winner: (await promotedVariants(db, [rule])).get(rule.id),
    oversize: createPayloadCheck(rule.id),
    appOpenHours,
  };
  const decide = deciderFor(input);
  const decisions = await mapInTurns(facts, (chunk) => chunk.map(decide));
  return { decisions, facts, devices };
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
