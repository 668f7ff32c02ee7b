import { describe, expect, it } from "vitest";
import { claimedAt } from "../support/claimed-notification.ts";
import type { RecipientFacts } from "../../src/rules/policy.ts";
import { factsOf } from "../support/recipient-facts.ts";
import {
  decideBatch,
  decideSend,
  quietEnds,
  type SendContext,
} from "../../src/delivery/send-decision.ts";
import { compileRuleBook, type Rule } from "../../src/rules/rule-book.ts";

const NOW = new Date("2026-07-01T12:00:00Z");
const claimed = (attempt: number) => claimedAt(NOW, attempt);

const utc = quietEnds((zone) => zone ?? "UTC");

describe("decideSend", () => {
  const context = {
    settings: { categories: {} } as never,
    facts: {} as never,
    devices: [],
    settled: new Map(),
    now: NOW,
  };

  it("when the rule was removed while the notification waited, then it is cancelled as rule_removed", () => {
    const plan = decideSend(claimed(1), { ...context, rule: undefined }, utc);
    expect(plan).toMatchObject({
      kind: "skip",
      update: { status: "cancelled", reason: "rule_removed" },
    });
  });

  it("when the rule was disabled while the notification waited, then it is cancelled as rule_disabled", () => {
    const plan = decideSend(
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

describe("decideSend: quiet hours at send time", () => {
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
    const plan = decideSend(
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
    const evening = decideSend(
      claimed(1),
      contextWith(true, { timezone: null }),
      utc,
    );
    const ignoring = decideSend(
      claimed(1),
      contextWith(false, { timezone: "Europe/Berlin" }),
      utc,
    );
    expect(evening.kind).toBe("send");
    expect(ignoring.kind).toBe("send");
  });

  it("when the user opted out while the message waited, then it is suppressed, not deferred", () => {
    const plan = decideSend(
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

describe("decideBatch: caps within a claimed batch", () => {
  const book = compileRuleBook(
    {
      settings: { frequencyCap: { max: 1, per: "1d" } },
      rules: [
        {
          id: "ping",
          trigger: 'event = "Ping"',
          delivery: { quietHours: false },
          message: { title: "t", body: "b" },
        },
        {
          id: "refresh",
          trigger: 'event = "Refresh"',
          message: { silent: true, data: { what: "wishlist" } },
        },
      ],
    },
    "test rules",
  );
  const contextOf = (ruleId: string): SendContext => ({
    rule: book.rules.find((r) => r.id === ruleId),
    settings: book.settings,
    facts: factsOf(),
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
    now: NOW,
  });
  const silent = {
    ...claimed(1),
    notificationId: "n-silent",
    ruleId: "refresh",
    content: { silent: true, uncapped: true, data: { what: "wishlist" } },
  };
  const ping = (id: string) => ({ ...claimed(1), notificationId: id });

  it("when a silent push goes before a capped one to the same user, then it does not use up the cap; two capped ones do", () => {
    const afterSilent = decideBatch(
      [silent, ping("n-2")],
      [contextOf("refresh"), contextOf("ping")],
      (zone) => zone ?? "UTC",
    );
    const afterPing = decideBatch(
      [ping("n-1"), ping("n-2")],
      [contextOf("ping"), contextOf("ping")],
      (zone) => zone ?? "UTC",
    );
    expect(afterSilent.map((d) => d.kind)).toEqual(["send", "send"]);
    expect(afterPing.map((d) => d.kind)).toEqual(["send", "skip"]);
  });
});
