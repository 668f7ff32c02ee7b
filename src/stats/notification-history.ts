import { NotificationStatus, type JsonObject } from "../db/schema.ts";
import type { NotificationRecord } from "./notification-history.repository.ts";

/** One step in a notification's life, as far as its row tells it. */
export type HistoryEntry = {
  at: Date;
  event:
    | "created"
    | "deferred"
    | "suppressed"
    | "cancelled"
    | "sending"
    | "retrying"
    | "sent"
    | "failed"
    | "received"
    | "opened"
    | "bounced"
    | "converted";
  reason?: string;
  /** For deferred and retrying: when it is (or was) due. */
  until?: Date;
  /** For deferred: what deferred it (delay, quiet_hours, window). */
  by?: string[];
  /** For suppressed with `payload_too_large`: the payload measured against its limit. */
  size?: { platform: string; bytes: number; limit: number };
};

/**
 * A notification's history in time order: planned, deferred until when and by what,
 * then what became of it (suppressed or cancelled with the reason, retrying until
 * when, sent, failed with the reason), and what the device and the user did with it
 * (received, opened, bounced, converted).
 */
export function historyOf(n: NotificationRecord): HistoryEntry[] {
  const history: HistoryEntry[] = [{ at: n.createdAt, event: "created" }];
  if (n.deferredBy.length > 0) {
    history.push({
      at: n.createdAt,
      event: "deferred",
      until: n.sendAt,
      by: n.deferredBy,
    });
  }
  if (n.sentAt !== null) history.push({ at: n.sentAt, event: "sent" });
  for (const [at, event] of [
    [n.receivedAt, "received"],
    [n.openedAt, "opened"],
    [n.bouncedAt, "bounced"],
    [n.convertedAt, "converted"],
  ] as const) {
    if (at !== null) history.push({ at, event });
  }
  const reason = n.reason === null ? {} : { reason: n.reason };
  switch (n.status) {
    case NotificationStatus.suppressed: {
      const size = payloadSizeOf(n.content);
      history.push({
        at: n.updatedAt,
        event: n.status,
        ...reason,
        ...(size && { size }),
      });
      break;
    }
    case NotificationStatus.cancelled:
    case NotificationStatus.failed:
      history.push({ at: n.updatedAt, event: n.status, ...reason });
      break;
    case NotificationStatus.sending:
      history.push({ at: n.updatedAt, event: "sending" });
      break;
    case NotificationStatus.pending:
      if (n.attempts > 0)
        history.push({
          at: n.updatedAt,
          event: "retrying",
          until: n.sendAt,
          ...reason,
        });
      break;
  }
  return history.sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** The payload a suppressed notification recorded as too large, if it did. */
function payloadSizeOf(content: JsonObject | null): HistoryEntry["size"] {
  const size = content?.payloadTooLarge;
  if (typeof size !== "object" || size === null) return undefined;
  const { platform, bytes, limit } = size as Record<string, unknown>;
  return typeof platform === "string" &&
    typeof bytes === "number" &&
    typeof limit === "number"
    ? { platform, bytes, limit }
    : undefined;
}
