import type { Logger } from "../logger.ts";

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
 * Reports each notification's outcome to Segment as `Push Notification Sent` or
 * `Push Notification Failed`, so the warehouse and other destinations see them. The
 * library batches, retries and never blocks delivery; the messageId is derived from
 * the notification, so a report repeated after a crash is deduplicated by Segment.
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
        event: sent ? "Push Notification Sent" : "Push Notification Failed",
        messageId: `nudge-${outcome.status}-${outcome.notificationId}`,
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
