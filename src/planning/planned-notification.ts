import { hash } from "node:crypto";
import { NotificationStatus } from "../db/schema.ts";
import type { NewNotification } from "../delivery/outbox.repository.ts";
import type { AudienceMember } from "../delivery/recipient.repository.ts";
import type { Decision } from "../rules/policy.ts";
import type { Rule } from "../rules/rule-book.ts";
import type { Match } from "./match.repository.ts";

/** The notification of one recipient's decision. */
export function toNotification(
  match: Match,
  rule: Rule,
  member: AudienceMember,
  decision: Decision,
): NewNotification {
  const common = {
    userId: member.userId,
    notificationId: notificationIdOf(match.matchId, member.userId),
    matchId: match.matchId,
    ruleId: rule.id,
    ruleVersion: rule.version,
    itemKey: match.itemKey,
    variant: decision.variant,
    timing: decision.timing,
    category: rule.category,
  };
  if (decision.status === "suppressed") {
    return {
      ...common,
      status: NotificationStatus.suppressed,
      reason: decision.reason,
      deferredBy: [],
      sendAt: match.triggeredAt,
      expiresAt: undefined,
      // What did not fit, for the notification's history; nothing else is kept.
      content:
        decision.size === undefined
          ? undefined
          : { payloadTooLarge: decision.size },
    };
  }
  return {
    ...common,
    status: NotificationStatus.pending,
    reason: undefined,
    deferredBy: decision.deferredBy,
    sendAt: decision.sendAt,
    expiresAt: decision.expiresAt,
    content: decision.content,
  };
}

/** Whether this notification is pending and due at `now`. */
export function isDueNow(notification: NewNotification, now: Date): boolean {
  return (
    notification.status === NotificationStatus.pending &&
    notification.sendAt <= now
  );
}

/**
 * A recipient's notification id, derived from the match and the user (a name-based
 * UUID, RFC 9562 version 5): a page planned again after a crash gives each recipient
 * the id it had, and the id is the collapse id, so a push sent twice replaces the
 * first on the device instead of showing twice.
 */
export function notificationIdOf(matchId: string, userId: string): string {
  const digest = hash("sha1", `${matchId}\0${userId}`, "buffer");
  digest[6] = ((digest[6] ?? 0) & 0x0f) | 0x50;
  digest[8] = ((digest[8] ?? 0) & 0x3f) | 0x80;
  const hex = digest.toString("hex", 0, 16);
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20),
  ].join("-");
}
