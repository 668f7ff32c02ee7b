import { describe, expect, it } from "vitest";
import { claimedAt } from "../support/claimed-notification.ts";
import { settle, type PushResult } from "../../src/delivery/settlement.ts";
import type { Push, SendOutcome } from "../../src/providers/provider.ts";

const NOW = new Date("2026-07-01T12:00:00Z");
const claimed = (attempt: number) => claimedAt(NOW, attempt);
const backoff = { baseMs: 10_000, maxMs: 3_600_000 };

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

describe("settle: a provider that is down", () => {
  const until = new Date(NOW.getTime() + 2_000);
  const down = (deviceId: string): PushResult => ({
    ...result(deviceId, {
      kind: "retry",
      reason: "apns paused: no answer",
    }),
    outage: { until, reason: "no answer" },
  });

  it("when every push met the outage, then the attempt is given back and the notification waits for the end of the pause", () => {
    const { update, deliveries } = settle(
      claimed(1),
      [down("d1"), down("d2")],
      new Map(),
      NOW,
      backoff,
      5,
    );
    expect(update).toMatchObject({
      status: "pending",
      reason: "apns paused: no answer",
      sendAt: until,
      releasedAttempt: true,
    });
    expect(deliveries.map((d) => d.status)).toEqual(["retry", "retry"]);
  });

  it("when the last attempt meets the outage, then nothing is exhausted", () => {
    const { update, deliveries } = settle(
      claimed(5),
      [down("d1")],
      new Map(),
      NOW,
      backoff,
      5,
    );
    expect(update).toMatchObject({ status: "pending", releasedAttempt: true });
    expect(deliveries[0]?.status).toBe("retry");
  });

  it("when another device took the push, then the attempt counts, and the device that met the outage waits for the pause alone", () => {
    const { update } = settle(
      claimed(1),
      [result("d1", sent), down("d2")],
      new Map(),
      NOW,
      backoff,
      5,
    );
    expect(update).toMatchObject({
      status: "pending",
      sentAt: NOW,
      sendAt: until,
      releasedAttempt: false,
    });
  });

  it("when another device must retry on its own, then the later of its backoff and the pause decides", () => {
    const { update } = settle(
      claimed(1),
      [result("d1", retry), down("d2")],
      new Map(),
      NOW,
      backoff,
      5,
    );
    expect(update.releasedAttempt).toBe(false);
    expect(update.sendAt?.getTime()).toBeGreaterThanOrEqual(
      NOW.getTime() + 5_000,
    );
  });
});
