import { randomBytes } from "node:crypto";

/** Tries of one batch, 200 ms apart: a bound, so a dead server fails the test. */
const MAX_ATTEMPTS = 150;

/** What a sender saw: every answer by status, and the messageIds acknowledged 2xx. */
export type SenderReport = {
  statuses: Map<number, number>;
  /** Answers of 503 that carried no Retry-After: Segment would still retry them. */
  withoutRetryAfter: number;
  /** Requests that got no answer at all (the connection failed). */
  unanswered: number;
  acknowledged: Set<string>;
};

/**
 * Posts batches of identify + track calls to `/v1/segment` from `connections` loops
 * until `stop` is called, as Segment's webhook does: a batch answered 408, 429 or 5xx,
 * or not answered, is sent again, unchanged, after a short wait, until it is
 * acknowledged. `done` resolves when every loop has had its last batch acknowledged.
 */
export function startSegmentSender(options: {
  url: () => string;
  connections: number;
  batchSize: number;
  /** Gives each call's user a device token, so calls write devices too. */
  users: number;
}): { stop(): void; done: Promise<SenderReport> } {
  const report: SenderReport = {
    statuses: new Map(),
    withoutRetryAfter: 0,
    unanswered: 0,
    acknowledged: new Set(),
  };
  let stopping = false;
  const batch = () =>
    Array.from({ length: options.batchSize }, (_, i) => {
      const user = `load-${String(Math.floor(Math.random() * options.users))}`;
      const messageId = `m-${randomBytes(8).toString("hex")}`;
      return i % 2 === 0
        ? {
            type: "identify",
            userId: user,
            messageId,
            traits: { plan: "pro" },
            context: { device: { type: "android", token: `tok-${user}` } },
          }
        : { type: "track", event: "Viewed", userId: user, messageId };
    });
  const deliver = async (events: object[]) => {
    for (let attempt = 1; ; attempt++) {
      if (attempt > MAX_ATTEMPTS)
        throw new Error(
          `a batch was not acknowledged in ${String(MAX_ATTEMPTS)} tries`,
        );
      const status = await fetch(`${options.url()}/v1/segment`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(events),
        signal: AbortSignal.timeout(10_000),
      }).then(
        (response) => {
          if (response.status === 503 && !response.headers.has("retry-after"))
            report.withoutRetryAfter++;
          return response.arrayBuffer().then(() => response.status);
        },
        () => undefined,
      );
      if (status === undefined) report.unanswered++;
      else report.statuses.set(status, (report.statuses.get(status) ?? 0) + 1);
      if (status !== undefined && status < 300) {
        for (const e of events)
          report.acknowledged.add((e as { messageId: string }).messageId);
        return;
      }
      if (status !== undefined && ![408, 429].includes(status) && status < 500)
        throw new Error(`batch refused with ${String(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const loop = async () => {
    while (!stopping) await deliver(batch());
  };
  const loops = Array.from({ length: options.connections }, loop);
  return {
    stop() {
      stopping = true;
    },
    done: Promise.all(loops).then(() => report),
  };
}
