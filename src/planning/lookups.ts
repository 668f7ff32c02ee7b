import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import {
  inFlightElsewhere,
  lockPlanning,
} from "../delivery/handed-pages.repository.ts";
import type { Handoff, InFlight } from "../delivery/handoff.ts";
import type { FactsQuery } from "../delivery/recipient.repository.ts";
import type { RecipientFacts } from "../rules/policy.ts";

/*
 * What deciding for a recipient looks up besides the facts its page reads: timezones,
 * and the notifications in flight, which have no row yet and count all the same.
 */

/** What deciding for a recipient looks up besides the database. */
export type Lookups = {
  timezoneOf: (zone: string | null) => string;
  /** This process's notifications handed to delivery and not yet written. */
  inFlightOf: (userId: string) => readonly InFlight[];
};

/** Lookups with nothing in flight: for a preview, or a process that does not deliver. */
export function lookupsWithout(
  timezoneOf: (zone: string | null) => string,
): Lookups {
  return { timezoneOf, inFlightOf: () => [] };
}

/**
 * The facts with this process's notifications in flight counted: they have no row
 * until their outcome is written, and the caps and dedupe must see them all the same.
 */
export function withInFlight(
  facts: readonly RecipientFacts[],
  query: FactsQuery,
  inFlightOf: (userId: string) => readonly InFlight[],
): RecipientFacts[] {
  return facts.map((recipient) => {
    const flying = inFlightOf(recipient.userId);
    if (flying.length === 0) return recipient;
    const ofRule = flying.filter((f) => f.ruleId === query.ruleId);
    return {
      ...recipient,
      recentTotal:
        recipient.recentTotal +
        (query.globalCapSince === undefined
          ? 0
          : flying.filter((f) => !f.uncapped).length),
      recentForRule:
        recipient.recentForRule +
        (query.ruleCapSince === undefined ? 0 : ofRule.length),
      duplicate:
        recipient.duplicate ||
        (query.dedupeSince !== undefined &&
          ofRule.some((f) => f.itemKey === query.itemKey)),
    };
  });
}

/**
 * Takes the planning lock for the rest of the transaction, then returns `lookups` with
 * what other processes have in flight for these users counted in: their pages handed
 * over unwritten, which caps and dedupe must count as this process's own. Pages of
 * `exceptMatch` are the ones being planned again.
 */
export async function lookupsAcrossProcesses(
  trx: Kysely<DB>,
  context: { handoff: Handoff | undefined; now: Date },
  lookups: Lookups,
  userIds: readonly string[],
  exceptMatch: string | null,
): Promise<Lookups> {
  await lockPlanning(trx);
  const elsewhere = await inFlightElsewhere(
    trx,
    context.handoff?.owner ?? "",
    userIds,
    context.now,
    exceptMatch,
  );
  if (elsewhere.size === 0) return lookups;
  return {
    ...lookups,
    inFlightOf: (userId) => [
      ...lookups.inFlightOf(userId),
      ...(elsewhere.get(userId) ?? []),
    ],
  };
}
