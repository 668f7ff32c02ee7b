import { NotificationStatus } from "../db/schema.ts";
import type { Handoff } from "../delivery/handoff.ts";
import type { ClaimedNotification } from "../delivery/outbox.repository.ts";
import type { SendContext } from "../delivery/send-plan.ts";
import type { RecipientFacts } from "../rules/policy.ts";
import { claimedAs, type NewNotification } from "./notification.repository.ts";
import type { DeviceTarget } from "../delivery/recipient.repository.ts";

/** What a page hands over once it commits: claimed notifications and how to send them. */
export type HandedOff = {
  claimed: ClaimedNotification[];
  contexts: SendContext[];
};

export const NOTHING_HANDED_OFF: HandedOff = { claimed: [], contexts: [] };

/** Claims for the handoff the notifications due now that it has room for. */
export function claimDueNow(
  notifications: NewNotification[],
  devicesOf: ReadonlyMap<string, readonly DeviceTarget[]>,
  handoff: Handoff | undefined,
  now: Date,
): NewNotification[] {
  if (handoff === undefined) return notifications;
  const fits = handoff.budget();
  const claimedUntil = handoff.leaseUntil(now);
  return notifications.map((n) =>
    n.status === NotificationStatus.pending &&
    n.sendAt <= now &&
    fits((devicesOf.get(n.userId) ?? []).map((d) => d.platform))
      ? claimedAs(n, claimedUntil)
      : n,
  );
}

/** The claimed notifications the page wrote, as delivery takes them, with what it read. */
export function toHandOver(
  notifications: readonly NewNotification[],
  inserted: ReadonlySet<string>,
  common: Pick<SendContext, "rule" | "settings" | "now">,
  read: {
    facts: readonly RecipientFacts[];
    devicesOf: ReadonlyMap<string, readonly DeviceTarget[]>;
  },
): HandedOff {
  const result: HandedOff = { claimed: [], contexts: [] };
  notifications.forEach((n, index) => {
    const facts = read.facts[index];
    if (
      n.claimedUntil === undefined ||
      facts === undefined ||
      !inserted.has(n.notificationId)
    )
      return;
    result.claimed.push({
      userId: n.userId,
      notificationId: n.notificationId,
      ruleId: n.ruleId,
      itemKey: n.itemKey,
      category: n.category ?? null,
      attempt: 1,
      expiresAt: n.expiresAt ?? null,
      content: n.content ?? null,
      createdAt: common.now,
      claimedUntil: n.claimedUntil,
    });
    result.contexts.push({
      ...common,
      facts,
      devices: read.devicesOf.get(n.userId) ?? [],
      settled: new Map(),
    });
  });
  return result;
}
