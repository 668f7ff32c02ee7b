import type { ClaimedNotification } from "../../src/delivery/claim.repository.ts";

/** A notification claimed at `now` for its `attempt`-th send: Ada's ping. */
export function claimedAt(now: Date, attempt: number): ClaimedNotification {
  return {
    userId: "ada",
    notificationId: "n-1",
    ruleId: "ping",
    itemKey: null,
    category: null,
    attempt,
    expiresAt: null,
    content: { title: "t", body: "b" },
    createdAt: now,
    claimedUntil: new Date(now.getTime() + 60_000),
  };
}
