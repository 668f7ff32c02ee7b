import type { Logger } from "../logger.ts";
import { OWN_REPORT_PREFIX } from "../stats/feedback.ts";

/** A notification's final outcome, as reported back to Segment. */
export type ReportedOutcome = {
  userId: string;
  notificationId: string;
  ruleId: string;
  status: "sent" | "failed";
  reason: string | null;
  platforms: readonly string[];
  at: Date;
};

export type SegmentReporter = {
  report(outcome: ReportedOutcome): void;
  /** Sends what is queued; on shutdown. */
  close(): Promise<void>;
};

/**
 * The events an outcome is reported as. A push that reached no device is the mobile
 * spec's `Push Notification Bounced`; the spec names no event for a send, so a sent
 * push keeps Nudge's own `Push Notification Sent`.
 */
export const REPORTED_EVENTS = {
  sent: "Push Notification Sent",
  failed: "Push Notification Bounced",
} as const;

/**
 * Reports each notification's outcome to Segment (`REPORTED_EVENTS`), so the warehouse
 * and other destinations see them. The library batches, retries and never blocks
 * delivery; the messageId is derived from the notification, so a report repeated
 * after a crash is deduplicated by Segment.
 */
export async function createSegmentReporter(options: {
  writeKey: string;
  host: string;
  logger: Logger;
  /** Flush after this many events (default: the library's). */
  flushAt?: number;
}): Promise<SegmentReporter> {
  // Imported here, not at the top: the library costs ~21 MiB of resident memory, which
  // a deployment that does not report to Segment would carry for nothing.
  const { Analytics } = await import("@segment/analytics-node");
  const analytics = new Analytics({
    writeKey: options.writeKey,
    host: options.host,
    ...(options.flushAt !== undefined && { flushAt: options.flushAt }),
  });
  analytics.on("error", (error) => {
    options.logger.warn({ err: error }, "reporting to Segment failed");
  });
  return {
    report(outcome) {
      const sent = outcome.status === "sent";
      analytics.track({
        userId: outcome.userId,
        event: REPORTED_EVENTS[outcome.status],
        messageId: `${OWN_REPORT_PREFIX}${outcome.status}-${outcome.notificationId}`,
        timestamp: outcome.at,
        properties: {
          nudge_id: outcome.notificationId,
          rule_id: outcome.ruleId,
          platforms: outcome.platforms,
          ...(sent ? {} : { reason: outcome.reason }),
        },
      });
    },
    close: () => analytics.closeAndFlush({ timeout: 5_000 }),
  };
}
