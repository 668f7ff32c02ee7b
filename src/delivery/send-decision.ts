import {
  NotificationStatus,
  type DeliveryStatus,
  type JsonObject,
} from "../db/schema.ts";
import type { Push } from "../providers/provider.ts";
import { pushMessageOf } from "../providers/push-content.ts";
import {
  finalCheck,
  quietUntil,
  type RecipientFacts,
} from "../rules/policy.ts";
import type { Rule } from "../rules/rule-book.ts";
import type { Settings } from "../rules/rules-file.schema.ts";
import type { ClaimedNotification, Deferral } from "./claim.repository.ts";
import type { NotificationUpdate } from "./outcome.repository.ts";
import { finalUpdate, settledUpdate } from "./settlement.ts";
import type { DeviceTarget } from "./recipient.repository.ts";

/** Why a claimed notification was settled without a send. */
export const SkipReason = {
  ruleRemoved: "rule_removed",
  ruleDisabled: "rule_disabled",
} as const;

export type SendDecision =
  | { kind: "skip"; update: NotificationUpdate }
  | { kind: "defer"; deferral: Deferral }
  | { kind: "send"; pushes: Push[] };

export type SendContext = {
  rule: Rule | undefined;
  settings: Settings;
  facts: RecipientFacts;
  devices: readonly DeviceTarget[];
  /** This notification's devices that an earlier attempt settled, with how. */
  settled: ReadonlyMap<string, DeliveryStatus>;
  now: Date;
};

/**
 * Decides at send time what a claimed notification becomes: the policy is checked again
 * (opt-outs, caps and expiry may have changed while it waited), a message that would
 * reach its user in their quiet hours waits for their end, then one push per active
 * device that no earlier attempt settled. The message rendered at plan time is
 * reused: the profile it read is the one the policy approved.
 */
export function decideSend(
  claimed: ClaimedNotification,
  context: SendContext,
  quietEnd: QuietEnd,
): SendDecision {
  const { rule, facts, now } = context;
  const skip = (status: NotificationStatus, reason: string): SendDecision => ({
    kind: "skip",
    update: settledUpdate(claimed, status, reason, null),
  });
  if (rule === undefined)
    return skip(NotificationStatus.cancelled, SkipReason.ruleRemoved);
  if (!rule.enabled)
    return skip(NotificationStatus.cancelled, SkipReason.ruleDisabled);
  const stop = finalCheck(
    rule,
    context.settings,
    facts,
    claimed.expiresAt ?? undefined,
    now,
  );
  if (stop !== undefined) return skip(NotificationStatus.suppressed, stop);
  const until = quietEnd(rule, context.settings, facts.timezone, now);
  if (until !== undefined) {
    const { notificationId, claimedUntil } = claimed;
    return { kind: "defer", deferral: { notificationId, claimedUntil, until } };
  }

  const content = claimed.content ?? {};
  const pushes = context.devices
    .filter((d) => !context.settled.has(d.deviceId))
    .map((device) => toPush(claimed, device, content));
  if (pushes.length === 0) {
    // An earlier attempt settled every device left (the others were removed since).
    return {
      kind: "skip",
      update: finalUpdate(claimed, context.settled, null, []),
    };
  }
  return { kind: "send", pushes };
}

/**
 * Plans a claimed batch in order. The caps' counts come from what users were sent
 * before the batch; a notification the batch sends counts against the ones after it,
 * as if they had been sent one by one.
 */
export function decideBatch(
  claimed: readonly ClaimedNotification[],
  contexts: readonly SendContext[],
  timezoneOf: (zone: string | null) => string,
): SendDecision[] {
  const quietEnd = quietEnds(timezoneOf);
  const sentToUser = new Map<string, number>();
  const sentForRule = new Map<string, number>();
  return claimed.map((notification, index) => {
    const context = contexts[index] as SendContext;
    const ruleKey = `${notification.userId}\0${notification.ruleId}`;
    const toUser = sentToUser.get(notification.userId) ?? 0;
    const forRule = sentForRule.get(ruleKey) ?? 0;
    // Most users get one notification per batch: their facts stand as loaded.
    const counted =
      toUser === 0 && forRule === 0
        ? context
        : {
            ...context,
            facts: {
              ...context.facts,
              recentTotal: context.facts.recentTotal + toUser,
              recentForRule: context.facts.recentForRule + forRule,
            },
          };
    const decision = decideSend(notification, counted, quietEnd);
    if (decision.kind === "send") {
      // A silent push (uncapped) counts toward its rule's own cap only.
      if (notification.content?.uncapped !== true)
        sentToUser.set(
          notification.userId,
          (sentToUser.get(notification.userId) ?? 0) + 1,
        );
      sentForRule.set(ruleKey, (sentForRule.get(ruleKey) ?? 0) + 1);
    }
    return decision;
  });
}

/** The end of the user's quiet hours if a message sent at `now` would fall in them. */
export type QuietEnd = (
  rule: Rule,
  settings: Settings,
  zone: string | null,
  now: Date,
) => Date | undefined;

/**
 * `quietUntil` in the user's timezone, worked out once per rule version, zone and
 * time: a batch's users share a few zones, and formatting a time in a zone costs some
 * microseconds a push. One per batch, whose rules and settings do not change under it.
 */
export function quietEnds(
  timezoneOf: (zone: string | null) => string,
): QuietEnd {
  const known = new Map<string, Date | undefined>();
  return (rule, settings, zone, now) => {
    const timezone = timezoneOf(zone);
    const key = `${rule.version}\0${timezone}\0${String(now.getTime())}`;
    if (!known.has(key))
      known.set(key, quietUntil(rule, settings, timezone, now));
    return known.get(key);
  };
}

function toPush(
  claimed: ClaimedNotification,
  device: DeviceTarget,
  content: JsonObject,
): Push {
  const identity = {
    notificationId: claimed.notificationId,
    ruleId: claimed.ruleId,
    expiresAt: claimed.expiresAt ?? undefined,
  };
  return {
    ...pushMessageOf(content, identity, device.platform),
    userId: claimed.userId,
    deviceId: device.deviceId,
    platform: device.platform,
    token: device.token,
    subscription: device.subscription,
  };
}
