import type {
  HandedNotification,
  Handoff,
  InFlight,
} from "../delivery/handoff.ts";
import type { DeliveryStatus } from "../db/schema.ts";
import type { NewNotification } from "../delivery/outbox.repository.ts";
import type {
  DeviceTarget,
  FactsQuery,
} from "../delivery/recipient.repository.ts";
import type { SendContext } from "../delivery/send-decision.ts";
import type { RecipientFacts } from "../rules/policy.ts";
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
        (query.globalCapSince === undefined ? 0 : flying.length),
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
