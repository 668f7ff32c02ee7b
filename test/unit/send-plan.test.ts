import { describe, expect, it } from "vitest";
import type { ClaimedNotification } from "../../src/delivery/outbox.repository.ts";
import {
  planSend,
  settle,
  type PushResult,
} from "../../src/delivery/send-plan.ts";
import type { Push, SendOutcome } from "../../src/providers/provider.ts";
import type { Rule } from "../../src/rules/rule-book.ts";

const NOW = new Date("2026-07-01T12:00:00Z");
const backoff = { baseMs: 10_000, maxMs: 3_600_000 };

function claimed(attempt: number): ClaimedNotification {
  return {
    userId: "ada",
    notificationId: "n-1",
    ruleId: "ping",
    itemKey: null,
    category: null,
    attempt,
    expiresAt: null,
    content: { title: "t", body: "b" },
    createdAt: NOW,
    claimedUntil: new Date(NOW.getTime() + 60_000),
  };
}

function result(deviceId: string, outcome: SendOutcome): PushResult {
  const push = {
    notificationId: "n-1",
    userId: "ada",
    deviceId,
    platform: "apns",
    token: `token-${deviceId}`,
  } as Push;
  return { push, provider: "apns", outcome };
}

const sent: SendOutcome = { kind: "sent" };
const retry: SendOutcome = { kind: "retry", reason: "503 Unavailable" };
const dead: SendOutcome = { kind: "invalid_token", reason: "Unregistered" };
const tooLarge: SendOutcome = { kind: "permanent", reason: "PayloadTooLarge" };

describe("settle", () => {
  it("when every device took the push, then the notification is sent at this attempt", () => {
    const { update, deliveries } = settle(
      claimed(1),
      [result("d1", sent), result("d2", sent)],
      new Map(),
      NOW,
      backoff,
      5,
    );
    expect(update).toMatchObject({ status: "sent", sentAt: NOW, reason: null });
    expect(deliveries.map((d) => d.status)).toEqual(["sent", "sent"]);
  });

  it("when one device must retry, then the notification waits, even though another took it", () => {
    const { update, deliveries } = settle(
      claimed(1),
      [result("d1", sent), result("d2", retry)],
      new Map(),
      NOW,
      backoff,
      5,
    );
    expect(update.status).toBe("pending");
    expect(update.reason).toBe("503 Unavailable");
    expect(update.sentAt).toEqual(NOW);
    expect(update.sendAt?.getTime()).toBeGreaterThanOrEqual(
      NOW.getTime() + 5_000,
    );
    expect(deliveries.map((d) => d.status)).toEqual(["sent", "retry"]);
  });

  it("when the last attempt must retry, then the device fails with retries_exhausted", () => {
    const { update, deliveries } = settle(
      claimed(5),
      [result("d1", retry)],
      new Map(),
      NOW,
      backoff,
      5,
    );
    expect(update).toMatchObject({
      status: "failed",
      reason: "retries_exhausted: 503 Unavailable",
    });
    expect(deliveries[0]?.status).toBe("failed");
  });

  it("when an earlier attempt reached a device, then a later failure of the others still leaves it sent", () => {
    const { update } = settle(
      claimed(2),
      [result("d2", tooLarge)],
      new Map([["d1", "sent"]]),
      NOW,
      backoff,
      5,
    );
    expect(update).toMatchObject({ status: "sent", sentAt: null });
  });

  it("when the token is dead, then the device is disabled with the provider's reason and the notification fails as invalid_token", () => {
    const { update, disablings } = settle(
      claimed(1),
      [result("d1", dead)],
      new Map(),
      NOW,
      backoff,
      5,
    );
    expect(update).toMatchObject({ status: "failed", reason: "invalid_token" });
    expect(disablings).toEqual([
      expect.objectContaining({
        deviceId: "d1",
        token: "token-d1",
        reason: "Unregistered",
        provider: "apns",
      }),
    ]);
  });

  it("when retries wait on Retry-After, then the longest one decides", () => {
    const { update } = settle(
      claimed(1),
      [
        result("d1", { ...retry, retryAfterMs: 30_000 }),
        result("d2", { ...retry, retryAfterMs: 90_000 }),
      ],
      new Map(),
      NOW,
      backoff,
      5,
    );
    expect(update.sendAt).toEqual(new Date(NOW.getTime() + 90_000));
  });
});

describe("planSend", () => {
  const context = {
    settings: { categories: {} } as never,
    facts: {} as never,
    devices: [],
    settled: new Map(),
    now: NOW,
  };

  it("when the rule was removed while the notification waited, then it is cancelled as rule_removed", () => {
    const plan = planSend(claimed(1), { ...context, rule: undefined });
    expect(plan).toMatchObject({
      kind: "skip",
      update: { status: "cancelled", reason: "rule_removed" },
    });
  });

  it("when the rule was disabled while the notification waited, then it is cancelled as rule_disabled", () => {
    const plan = planSend(claimed(1), {
      ...context,
      rule: { enabled: false } as Rule,
    });
    expect(plan).toMatchObject({
      kind: "skip",
      update: { status: "cancelled", reason: "rule_disabled" },
    });
  });
});
