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
import { releaseUpdate, settle, type PushResult } from "./settlement.ts";

/** Sends one notification's pushes; resolves whether its outcome was written. */
export type NotificationSender = (
  claimed: ClaimedNotification,
  context: SendContext,
  pushes: readonly Push[],
) => Promise<boolean>;

/**
 * Sends a notification's pushes through their lanes and records what came of it,
 * inside the send window: from its first send until its outcome is written. Final
 * outcomes are reported to Segment when a reporter is configured.
 */
export function createNotificationSender(deps: {
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
}): NotificationSender {
  const { config, lanes, recorder, window } = deps;
  const sendDeps = {
    clock: deps.clock,
    logger: deps.logger,
    metrics: deps.metrics,
  };
  const backoff = { baseMs: config.retryBaseMs, maxMs: config.retryMaxMs };

  /**
   * Sends one notification's pushes through their lanes and records what came of it,
   * inside the send window: from its first send until its outcome is written.
   */
  const deliver = async (
    claimed: ClaimedNotification,
    context: SendContext,
    pushes: readonly Push[],
  ): Promise<boolean> => {
    await window.enter();
    try {
      return await sendAndRecord(claimed, context, pushes);
    } finally {
      window.leave();
    }
  };

  const sendAndRecord = async (
    claimed: ClaimedNotification,
    context: SendContext,
    pushes: readonly Push[],
  ): Promise<boolean> => {
    const results = await Promise.all(
      pushes.map((push) => {
        const lane = lanes.of(push.platform);
        return lane.queue.add(() =>
          deps.stopping() ? undefined : sendThroughLane(lane, push, sendDeps),
        );
      }),
    );
    const done = results.filter((r) => r !== undefined);
    if (done.length === 0)
      return recorder.record({ update: releaseUpdate(claimed) });
    // Shutdown interrupted part of this notification: the rest go on the next attempt.
    const interrupted = pushes
      .filter((_, i) => results[i] === undefined)
      .map((push): PushResult => ({
        push,
        provider: lanes.of(push.platform).provider.name,
        outcome: { kind: "retry", reason: "shutdown" },
      }));
    const now = deps.clock();
    const settlement = settle(
      claimed,
      [...done, ...interrupted],
      context.settled,
      now,
      backoff,
      config.maxAttempts,
    );
    const written = recorder.record(settlement);
    const { status, reason } = settlement.update;
    if (status === "sent" || status === "failed") {
      deps.reporter?.report({
        userId: claimed.userId,
        notificationId: claimed.notificationId,
        ruleId: claimed.ruleId,
        status,
        reason,
        platforms: done
          .filter((r) => r.outcome.kind === "sent")
          .map((r) => r.push.platform),
        at: now,
      });
    }
    return written;
  };

  return deliver;
}
