import type { DeliveryConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Push } from "../providers/provider.ts";
import type { ClaimedNotification } from "./claim.repository.ts";
import { sendThroughLane, type Lanes } from "./lanes.ts";
import type { OutcomeRecorder } from "./outcome-recorder.ts";
import type { SegmentReporter } from "./segment-reporter.ts";
import type { SendContext } from "./send-decision.ts";
import type { SendWindow } from "./send-window.ts";
import type { BackoffPolicy } from "./backoff.ts";
import type { NotificationUpdate } from "./outcome.repository.ts";
import { releaseUpdate, settle, type PushResult } from "./settlement.ts";

/** Sends one notification's pushes; resolves whether its outcome was written. */
export type NotificationSender = (
  claimed: ClaimedNotification,
  context: SendContext,
  pushes: readonly Push[],
) => Promise<boolean>;

type SenderDeps = {
  clock: () => Date;
  logger: Logger;
  metrics: Pick<Metrics, "sends" | "sendSeconds">;
  config: DeliveryConfig;
  reporter?: SegmentReporter | undefined;
  lanes: Lanes;
  window: SendWindow;
  recorder: OutcomeRecorder;
  /** Once true, queued sends are given back instead of sent. */
  stopping: () => boolean;
};

/**
 * Sends a notification's pushes through their lanes and records what came of it,
 * inside the send window: from its first send until its outcome is written. Final
 * outcomes are reported to Segment when a reporter is configured.
 */
export function createNotificationSender(deps: SenderDeps): NotificationSender {
  const { window } = deps;
  const backoff = {
    baseMs: deps.config.retryBaseMs,
    maxMs: deps.config.retryMaxMs,
  };
  return async (claimed, context, pushes) => {
    await window.enter();
    try {
      return await sendAndRecord(deps, backoff, claimed, context, pushes);
    } finally {
      window.leave();
    }
  };
}

/**
 * Sends a notification's pushes and records what came of them. When shutdown kept
 * every push from starting, the claim is given back untouched, attempt and all.
 */
async function sendAndRecord(
  deps: SenderDeps,
  backoff: BackoffPolicy,
  claimed: ClaimedNotification,
  context: SendContext,
  pushes: readonly Push[],
): Promise<boolean> {
  const { recorder } = deps;
  const results = await sendPushes(deps, pushes);
  const done = results.filter((r) => r !== undefined);
  if (done.length === 0)
    return recorder.record({ update: releaseUpdate(claimed) });
  const interrupted = interruptedResults(deps.lanes, pushes, results);
  const now = deps.clock();
  const settlement = settle(
    claimed,
    [...done, ...interrupted],
    context.settled,
    now,
    backoff,
    deps.config.maxAttempts,
  );
  const written = recorder.record(settlement);
  reportFinal(deps.reporter, claimed, settlement.update, done, now);
  return written;
}

/**
 * Queues each push on its lane. Once shutdown has begun, a push that has not started
 * is not sent: its result is undefined.
 */
function sendPushes(deps: SenderDeps, pushes: readonly Push[]) {
  return Promise.all(
    pushes.map((push) => {
      const lane = deps.lanes.of(push.platform);
      return lane.queue.add(() =>
        deps.stopping() ? undefined : sendThroughLane(lane, push, deps),
      );
    }),
  );
}

/** Shutdown interrupted part of a notification: the rest go on the next attempt. */
function interruptedResults(
  lanes: Lanes,
  pushes: readonly Push[],
  results: readonly (PushResult | undefined)[],
): PushResult[] {
  return pushes
    .filter((_, i) => results[i] === undefined)
    .map((push): PushResult => ({
      push,
      provider: lanes.of(push.platform).provider.name,
      outcome: { kind: "retry", reason: "shutdown" },
    }));
}

/** A notification settled for good (sent or failed) is reported to Segment. */
function reportFinal(
  reporter: SegmentReporter | undefined,
  claimed: ClaimedNotification,
  { status, reason }: NotificationUpdate,
  done: readonly PushResult[],
  at: Date,
): void {
  if (status === "sent" || status === "failed") {
    reporter?.report({
      userId: claimed.userId,
      notificationId: claimed.notificationId,
      ruleId: claimed.ruleId,
      status,
      reason,
      platforms: done
        .filter((r) => r.outcome.kind === "sent")
        .map((r) => r.push.platform),
      at,
    });
  }
}
