import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { HandedNotification, Handoff } from "../delivery/handoff.ts";
import type { DB, DeliveryStatus } from "../db/schema.ts";
import { recordHandedPage } from "../delivery/handed-pages.repository.ts";
import type { NewNotification } from "../delivery/outbox.repository.ts";
import type { DeviceTarget } from "../delivery/recipient.repository.ts";
import type { SendContext } from "../delivery/send-decision.ts";
import type { RecipientFacts } from "../rules/policy.ts";
import type { Match } from "./match.repository.ts";
import { isDueNow } from "./planned-notification.ts";

/** A notification planned now has no earlier attempt: no device is settled. */
const NOTHING_SETTLED: ReadonlyMap<string, DeliveryStatus> = new Map();

/** A page's notifications: those handed to delivery unwritten, and those to write. */
export type PageSplit = {
  handed: HandedNotification[];
  toWrite: NewNotification[];
};

/**
 * Hands to delivery the notifications due now that it has room for, with the facts and
 * devices the page just read; the others (suppressed, waiting, or beyond its room) are
 * written by the page.
 */
export function splitDueNow(
  notifications: readonly NewNotification[],
  read: {
    facts: readonly RecipientFacts[];
    devicesOf: ReadonlyMap<string, readonly DeviceTarget[]>;
  },
  handoff: Handoff | undefined,
  common: Pick<SendContext, "rule" | "settings" | "now">,
): PageSplit {
  const split: PageSplit = { handed: [], toWrite: [] };
  const fits = handoff?.budget();
  notifications.forEach((notification, index) => {
    const facts = read.facts[index];
    const devices = read.devicesOf.get(notification.userId) ?? [];
    if (
      fits === undefined ||
      facts === undefined ||
      !isDueNow(notification, common.now) ||
      !fits(devices.map((d) => d.platform))
    ) {
      split.toWrite.push(notification);
      return;
    }
    split.handed.push({
      notification: { ...notification, plannedAt: common.now },
      context: { ...common, facts, devices, settled: NOTHING_SETTLED },
    });
  });
  return split;
}

/**
 * Records a page handed over, for planners in other processes, until `until`; returns
 * its id, for the page to be forgotten once written.
 */
export async function recordHanded(
  trx: Kysely<DB>,
  owner: string,
  page: {
    match: Pick<Match, "matchId" | "ruleId" | "itemKey">;
    handed: readonly HandedNotification[];
    until: Date;
  },
): Promise<string> {
  const pageId = randomUUID();
  await recordHandedPage(trx, {
    pageId,
    owner,
    matchId: page.match.matchId,
    ruleId: page.match.ruleId,
    itemKey: page.match.itemKey,
    // One rule's page: its notifications are all capped or all not (policy.ts).
    uncapped: page.handed[0]?.notification.content?.uncapped === true,
    users: page.handed.map((h) => h.notification.userId),
    until: page.until,
  });
  return pageId;
}
