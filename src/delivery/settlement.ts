import { DeliveryStatus, NotificationStatus } from "../db/schema.ts";
import type { Push, SendOutcome } from "../providers/provider.ts";
import { retryDelay, type BackoffPolicy } from "./backoff.ts";
import type { ClaimedNotification } from "./claim.repository.ts";
import type {
  DeliveryRecord,
  DeviceDisabling,
  NotificationUpdate,
} from "./outcome.repository.ts";
import type { Outage } from "./provider-pause.ts";
import { QUIET_HOURS } from "./claim.repository.ts";

/**
 * One push and what came of it. `outage`: its provider was down, which says nothing
 * about this push: it was not sent, or its failure was part of the outage.
 */
export type PushResult = {
  push: Push;
  provider: string;
  outcome: SendOutcome;
  outage?: Outage;
};

export type Settlement = {
  update: NotificationUpdate;
  deliveries: DeliveryRecord[];
  disablings: DeviceDisabling[];
};

/**
 * What a notification becomes once every push of this attempt has an outcome. A device
 * that may succeed later keeps the notification pending for another attempt, until
 * `maxAttempts`; otherwise it is sent when any device (in any attempt) took it, and
 * failed with the reason when none did.
 *
 * A push that met its provider down never uses up the attempts: it waits at least
 * until the provider's pause ends. An attempt in which every push met an outage is
 * given back, as if it had not been made.
 */
export function settle(
  claimed: ClaimedNotification,
  results: readonly PushResult[],
  settledEarlier: ReadonlyMap<string, DeliveryStatus>,
  now: Date,
  backoff: BackoffPolicy,
  maxAttempts: number,
): Settlement {
  const deliveries: DeliveryRecord[] = [];
  const disablings: DeviceDisabling[] = [];
  const retries: { reason: string; retryAfterMs?: number }[] = [];
  const outages: Outage[] = [];
  const waitReasons: string[] = [];
  const failures: string[] = [];
  const lastAttempt = claimed.attempt >= maxAttempts;
  let sentNow = false;
  for (const { push, provider, outcome, outage } of results) {
    const record = (
      status: DeliveryStatus,
      reason: string | null,
      providerMessageId: string | null = null,
    ) => {
      deliveries.push({
        userId: push.userId,
        notificationId: push.notificationId,
        deviceId: push.deviceId,
        platform: push.platform,
        provider,
        status,
        reason,
        providerMessageId,
        attempts: claimed.attempt,
      });
    };
    switch (outcome.kind) {
      case "sent":
        sentNow = true;
        record(DeliveryStatus.sent, null, outcome.providerMessageId ?? null);
        break;
      case "invalid_token":
        record(DeliveryStatus.invalidToken, outcome.reason);
        failures.push(DeliveryStatus.invalidToken);
        disablings.push({
          userId: push.userId,
          deviceId: push.deviceId,
          platform: push.platform,
          token: push.token,
          provider,
          reason: outcome.reason,
          notificationId: push.notificationId,
        });
        break;
      case "permanent":
        record(DeliveryStatus.failed, outcome.reason);
        failures.push(outcome.reason);
        break;
      case "retry":
        if (outage !== undefined) {
          record(DeliveryStatus.retry, outcome.reason);
          outages.push(outage);
          waitReasons.push(outcome.reason);
        } else if (lastAttempt) {
          const reason = `retries_exhausted: ${outcome.reason}`;
          record(DeliveryStatus.failed, reason);
          failures.push(reason);
        } else {
          record(DeliveryStatus.retry, outcome.reason);
          retries.push(outcome);
          waitReasons.push(outcome.reason);
        }
        break;
    }
  }

  const sentAt = sentNow ? now : null;
  const [waitReason] = waitReasons;
  if (waitReason !== undefined) {
    const retryAfterMs = Math.max(...retries.map((r) => r.retryAfterMs ?? 0));
    const delay =
      retries.length > 0
        ? retryDelay(backoff, claimed.attempt, retryAfterMs)
        : 0;
    const sendAt = Math.max(
      now.getTime() + delay,
      ...outages.map((o) => o.until.getTime()),
    );
    return {
      update: {
        ...settledUpdate(
          claimed,
          NotificationStatus.pending,
          waitReason,
          sentAt,
        ),
        sendAt: new Date(sendAt),
        releasedAttempt: outages.length === results.length,
      },
      deliveries,
      disablings,
    };
  }
  return {
    update: finalUpdate(claimed, settledEarlier, sentAt, failures),
    deliveries,
    disablings,
  };
}

/**
 * Sent when any device took it, in this attempt or an earlier one (`sentAt` is set by
 * the attempt that first got one through); failed with the first reason when none did.
 */
export function finalUpdate(
  claimed: ClaimedNotification,
  settledEarlier: ReadonlyMap<string, DeliveryStatus>,
  sentAt: Date | null,
  failures: readonly string[],
): NotificationUpdate {
  const sentEarlier = [...settledEarlier.values()].includes(
    DeliveryStatus.sent,
  );
  return sentAt !== null || sentEarlier
    ? settledUpdate(claimed, NotificationStatus.sent, null, sentAt)
    : settledUpdate(
        claimed,
        NotificationStatus.failed,
        failures[0] ?? "no_device",
        null,
      );
}

export function settledUpdate(
  claimed: ClaimedNotification,
  status: NotificationStatus,
  reason: string | null,
  sentAt: Date | null,
): NotificationUpdate {
  return {
    userId: claimed.userId,
    notificationId: claimed.notificationId,
    claimedUntil: claimed.claimedUntil,
    status,
    reason,
    sendAt: null,
    sentAt,
    releasedAttempt: false,
    firstWrite: claimed.unwritten,
  };
}

/**
 * Puts a notification back to wait for the end of its user's quiet hours, the attempt
 * given back: for one handed over unwritten (a claimed row is deferred by
 * `deferClaimed`).
 */
export function deferredUpdate(
  claimed: ClaimedNotification,
  until: Date,
): NotificationUpdate {
  return {
    ...releaseUpdate(claimed),
    sendAt: until,
    deferredBy: [QUIET_HOURS],
  };
}

/** Gives a claimed notification back untouched: the process stops before sending it. */
export function releaseUpdate(
  claimed: ClaimedNotification,
): NotificationUpdate {
  return {
    ...settledUpdate(claimed, NotificationStatus.pending, null, null),
    releasedAttempt: true,
  };
}
