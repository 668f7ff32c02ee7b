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
import { Deferral } from "../rules/send-schedule.ts";

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
  const attempt = classifyResults(
    claimed,
    results,
    claimed.attempt >= maxAttempts,
  );
  return {
    update: notificationUpdate(
      claimed,
      attempt,
      results.length,
      settledEarlier,
      now,
      backoff,
    ),
    deliveries: attempt.deliveries,
    disablings: attempt.disablings,
  };
}

/** This attempt's push results, sorted by what each asks of the notification. */
type ClassifiedResults = {
  deliveries: DeliveryRecord[];
  disablings: DeviceDisabling[];
  /** Pushes that may succeed later, after a backoff. */
  retries: { reason: string; retryAfterMs?: number }[];
  /** The pauses of the providers that were down, which a retry must outlast. */
  outages: Outage[];
  /** Why the notification waits, one reason per retry or outage, in push order. */
  waitReasons: string[];
  /** Why a device will never take it, in push order. */
  failures: string[];
  /** Whether any device took it in this attempt. */
  sentNow: boolean;
};

function classifyResults(
  claimed: ClaimedNotification,
  results: readonly PushResult[],
  lastAttempt: boolean,
): ClassifiedResults {
  const classified: ClassifiedResults = {
    deliveries: [],
    disablings: [],
    retries: [],
    outages: [],
    waitReasons: [],
    failures: [],
    sentNow: false,
  };
  for (const result of results)
    classifyResult(classified, claimed, result, lastAttempt);
  return classified;
}

/**
 * Records one push's delivery and adds it to `into` by its outcome. A retry on the
 * last attempt fails, unless its provider was down: an outage uses up no attempt.
 */
function classifyResult(
  into: ClassifiedResults,
  claimed: ClaimedNotification,
  { push, provider, outcome, outage }: PushResult,
  lastAttempt: boolean,
): void {
  const record = (
    status: DeliveryStatus,
    reason: string | null,
    providerMessageId: string | null = null,
  ) => {
    into.deliveries.push({
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
      into.sentNow = true;
      record(DeliveryStatus.sent, null, outcome.providerMessageId ?? null);
      break;
    case "invalid_token":
      record(DeliveryStatus.invalidToken, outcome.reason);
      into.failures.push(DeliveryStatus.invalidToken);
      into.disablings.push({
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
      into.failures.push(outcome.reason);
      break;
    case "retry":
      classifyRetry(into, outcome, outage, lastAttempt, record);
      break;
  }
}

/**
 * A retry waits: for its provider's return when it met an outage, which costs no
 * attempt, else for its backoff; on the last attempt, without an outage, it fails.
 */
function classifyRetry(
  into: ClassifiedResults,
  outcome: Extract<SendOutcome, { kind: "retry" }>,
  outage: Outage | undefined,
  lastAttempt: boolean,
  record: (status: DeliveryStatus, reason: string) => void,
): void {
  if (outage !== undefined) {
    record(DeliveryStatus.retry, outcome.reason);
    into.outages.push(outage);
    into.waitReasons.push(outcome.reason);
  } else if (lastAttempt) {
    const reason = `retries_exhausted: ${outcome.reason}`;
    record(DeliveryStatus.failed, reason);
    into.failures.push(reason);
  } else {
    record(DeliveryStatus.retry, outcome.reason);
    into.retries.push(outcome);
    into.waitReasons.push(outcome.reason);
  }
}

/**
 * Pending again while any push waits (its attempt given back when every push met an
 * outage); otherwise settled for good by `finalUpdate`.
 */
function notificationUpdate(
  claimed: ClaimedNotification,
  attempt: ClassifiedResults,
  pushCount: number,
  settledEarlier: ReadonlyMap<string, DeliveryStatus>,
  now: Date,
  backoff: BackoffPolicy,
): NotificationUpdate {
  const sentAt = attempt.sentNow ? now : null;
  const [waitReason] = attempt.waitReasons;
  if (waitReason === undefined)
    return finalUpdate(claimed, settledEarlier, sentAt, attempt.failures);
  return {
    ...settledUpdate(claimed, NotificationStatus.pending, waitReason, sentAt),
    sendAt: nextSendAt(claimed, attempt, now, backoff),
    releasedAttempt: attempt.outages.length === pushCount,
  };
}

/**
 * When a waiting notification is tried again: after the backoff its retries ask for
 * (none when only outages wait), and not before every pause it met has ended.
 */
function nextSendAt(
  claimed: ClaimedNotification,
  { retries, outages }: ClassifiedResults,
  now: Date,
  backoff: BackoffPolicy,
): Date {
  const retryAfterMs = Math.max(...retries.map((r) => r.retryAfterMs ?? 0));
  const delay =
    retries.length > 0 ? retryDelay(backoff, claimed.attempt, retryAfterMs) : 0;
  return new Date(
    Math.max(now.getTime() + delay, ...outages.map((o) => o.until.getTime())),
  );
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
    deferredBy: [Deferral.quietHours],
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
