import { describe, expect, it } from "vitest";
import type { ClaimedNotification } from "../../src/delivery/outbox.repository.ts";
import type { RecipientFacts } from "../../src/rules/policy.ts";
import { factsOf } from "../support/recipient-facts.ts";
import {
  planSend,
  quietEnds,
  settle,
  type PushResult,
  type SendContext,
} from "../../src/delivery/send-plan.ts";
import type { Push, SendOutcome } from "../../src/providers/provider.ts";
import { compileRuleBook, type Rule } from "../../src/rules/rule-book.ts";

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

const utc = quietEnds((zone) => zone ?? "UTC");

describe("planSend", () => {
  const context = {
    settings: { categories: {} } as never,
    facts: {} as never,
    devices: [],
    settled: new Map(),
    now: NOW,
  };

  it("when the rule was removed while the notification waited, then it is cancelled as rule_removed", () => {
    const plan = planSend(claimed(1), { ...context, rule: undefined }, utc);
    expect(plan).toMatchObject({
      kind: "skip",
      update: { status: "cancelled", reason: "rule_removed" },
    });
  });

  it("when the rule was disabled while the notification waited, then it is cancelled as rule_disabled", () => {
    const plan = planSend(
      claimed(1),
      { ...context, rule: { enabled: false } as Rule },
      utc,
    );
    expect(plan).toMatchObject({
      kind: "skip",
      update: { status: "cancelled", reason: "rule_disabled" },
    });
  });
});

describe("planSend: quiet hours at send time", () => {
  /** A ping rule under 22:00–08:00 quiet hours, or one that ignores them. */
  function contextWith(
    quietHours: boolean,
    facts: Partial<RecipientFacts>,
  ): SendContext {
    const book = compileRuleBook(
      {
        settings: { quietHours: { start: "22:00", end: "08:00" } },
        rules: [
          {
            id: "ping",
            trigger: 'event = "Ping"',
            delivery: { quietHours },
            message: { title: "t", body: "b" },
          },
        ],
      },
      "test rules",
    );
    return {
      rule: book.rules[0],
      settings: book.settings,
      facts: factsOf(facts),
      devices: [
        {
          userId: "ada",
          deviceId: "d1",
          platform: "apns",
          token: "ab",
          subscription: null,
          locale: null,
        },
      ],
      settled: new Map(),
      // 22:30 in Berlin (summer time), 20:30 in UTC.
      now: new Date("2026-07-01T20:30:00Z"),
    };
  }

  it("when a message would reach its user in their quiet hours, then it waits for their end, in the user's timezone", () => {
    const plan = planSend(
      claimed(2),
      contextWith(true, { timezone: "Europe/Berlin" }),
      utc,
    );
    expect(plan).toEqual({
      kind: "defer",
      deferral: {
        notificationId: "n-1",
        claimedUntil: claimed(2).claimedUntil,
        // 08:00 in Berlin.
        until: new Date("2026-07-02T06:00:00Z"),
      },
    });
  });

  it("when it is not night in the user's timezone, or the rule ignores quiet hours, then it is sent", () => {
    const evening = planSend(
      claimed(1),
      contextWith(true, { timezone: null }),
      utc,
    );
    const ignoring = planSend(
      claimed(1),
      contextWith(false, { timezone: "Europe/Berlin" }),
      utc,
    );
    expect(evening.kind).toBe("send");
    expect(ignoring.kind).toBe("send");
  });

  it("when the user opted out while the message waited, then it is suppressed, not deferred", () => {
    const plan = planSend(
      claimed(1),
      contextWith(true, { timezone: "Europe/Berlin", optedOut: true }),
      utc,
    );
    expect(plan).toMatchObject({
      kind: "skip",
      update: { status: "suppressed", reason: "opted_out" },
    });
  });
});
