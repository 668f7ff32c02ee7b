import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import {
  inFlightElsewhere,
  lockPlanning,
} from "../delivery/handed-pages.repository.ts";
import type { Handoff, InFlight } from "../delivery/handoff.ts";

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
