import { describe, expect, it } from "vitest";
import { createPayloadCheck } from "../../src/planning/payload-check.ts";
import { toNotification } from "../../src/planning/planned-notification.ts";
import { payloadSizeOf } from "../../src/providers/payload-size.ts";
import type { PushMessage } from "../../src/providers/provider.ts";
import { WEBPUSH_MAX_PAYLOAD_BYTES } from "../../src/providers/webpush-payload.ts";
import { decide, type Decision } from "../../src/rules/policy.ts";
import {
  compileRuleBook,
  RulesFileError,
  type RuleBook,
} from "../../src/rules/rule-book.ts";
import { historyOf } from "../../src/stats/notification-history.ts";
import type { NotificationRecord } from "../../src/stats/notification-history.repository.ts";
import { factsOf } from "../support/recipient-facts.ts";

const NOON = new Date("2026-06-01T12:00:00Z");

function bookOf(message: Record<string, unknown>): RuleBook {
  return compileRuleBook(
    { rules: [{ id: "sale", trigger: 'event = "Sale"', message }] },
    "test rules",
  );
}

function decideFor(
  book: RuleBook,
  properties: Record<string, unknown>,
  platforms: ("apns" | "fcm" | "webpush")[],
): Decision {
  const rule = book.rules[0];
  if (rule === undefined) throw new Error("no rule");
  return decide(
    {
      matchId: "match-1",
      rule,
      settings: book.settings,
      event: { type: "track", event: "Sale", properties },
      triggeredAt: NOON,
      timezoneOf: () => "UTC",
      oversize: createPayloadCheck(rule.id),
    },
    factsOf({
      devices: platforms.map((platform) => ({ platform, locale: null })),
    }),
  );
}

function problemsOf(message: Record<string, unknown>): readonly string[] {
  try {
    bookOf(message);
    return [];
  } catch (error) {
    if (error instanceof RulesFileError) return error.problems;
    throw error;
  }
}

const SALE = {
  title: "{{ event.properties.name }} is on sale",
  body: "{{ event.properties.blurb }}",
};

describe("payload size, measured when a message is rendered", () => {
  it("when the rendered body makes the APNs payload over 4,096 bytes, then the push is suppressed payload_too_large with the size measured", () => {
    const decision = decideFor(
      bookOf(SALE),
      { name: "Lamp", blurb: "é".repeat(2100) },
      ["apns"],
    );

    expect(decision).toMatchObject({
      status: "suppressed",
      reason: "payload_too_large",
      size: { platform: "apns", bytes: expect.any(Number), limit: 4096 },
    });
    const bytes = (decision as { size: { bytes: number } }).size.bytes;
    expect(bytes).toBeGreaterThan(4096);
  });

  it("when a message fits APNs and FCM but not Web Push, then only a user with a browser is suppressed", () => {
    const blurb = "x".repeat(3940);
    const book = bookOf(SALE);

    expect(
      decideFor(book, { name: "Lamp", blurb }, ["apns", "fcm"]),
    ).toMatchObject({ status: "pending" });
    expect(
      decideFor(book, { name: "Lamp", blurb }, ["fcm", "webpush"]),
    ).toMatchObject({
      status: "suppressed",
      reason: "payload_too_large",
      size: { platform: "webpush", limit: WEBPUSH_MAX_PAYLOAD_BYTES },
    });
  });

  it("when a push is measured at planning, then the size is the one the provider's payload has for any notification id", () => {
    const push: PushMessage = {
      notificationId: "6f1c7a52-2f4e-5a8b-9c3d-0e1f2a3b4c5d",
      title: "Lamp is on sale",
      body: "Now 20% off",
      deepLink: "shop://product/lamp",
      image: undefined,
      sound: undefined,
      badge: undefined,
      data: {},
      threadId: "sale",
      expiresAt: undefined,
    };
    const check = createPayloadCheck("sale");
    const measured = check(
      {
        title: push.title,
        body: push.body,
        deepLink: "shop://product/lamp",
        data: {},
      },
      ["apns"],
    );

    expect(measured).toBeUndefined();
    expect(payloadSizeOf("apns", push)).toEqual({
      platform: "apns",
      bytes: Buffer.byteLength(
        JSON.stringify({
          nudge_id: push.notificationId,
          deep_link: "shop://product/lamp",
          aps: {
            alert: { title: push.title, body: push.body },
            "thread-id": "sale",
          },
        }),
      ),
      limit: 4096,
    });
  });

  it("when a suppressed notification was too large, then its history shows the size measured", () => {
    const decision = decideFor(
      bookOf(SALE),
      { name: "Lamp", blurb: "x".repeat(5000) },
      ["fcm"],
    );
    const book = bookOf(SALE);
    const rule = book.rules[0];
    if (rule === undefined) throw new Error("no rule");
    const planned = toNotification(
      { matchId: "m-1", triggeredAt: NOON, itemKey: null } as never,
      rule,
      { userId: "ada", item: undefined },
      decision,
    );
    const record = {
      status: planned.status,
      reason: planned.reason ?? null,
      content: planned.content ?? null,
      createdAt: NOON,
      updatedAt: NOON,
      deferredBy: [],
      sendAt: NOON,
      attempts: 0,
      sentAt: null,
      receivedAt: null,
      openedAt: null,
      bouncedAt: null,
      convertedAt: null,
    } as unknown as NotificationRecord;

    expect(historyOf(record).at(-1)).toEqual({
      at: NOON,
      event: "suppressed",
      reason: "payload_too_large",
      size: { platform: "fcm", bytes: expect.any(Number), limit: 4096 },
    });
  });
});

describe("payload size, checked when the rules are loaded", () => {
  it("when a rule's static text alone is over a platform's limit, then the rules are refused, naming the rule, variant and platform", () => {
    const problems = problemsOf({
      title: "Sale",
      body: `Hello {{ profile.traits.first_name }}, ${"x".repeat(4000)}`,
    });

    expect(problems).toEqual([
      expect.stringMatching(
        /^rules\[0\] "sale"\.message: its static text alone makes the apns payload \d+ bytes, over the 4096 allowed: shorten it$/,
      ),
    ]);
  });

  it("when only a variable could make a message too large, or the long text is inside a tag, then the rules load", () => {
    expect(problemsOf(SALE)).toEqual([]);
    expect(
      problemsOf({
        title: "Sale",
        body: `{% if event.properties.long %}${"x".repeat(5000)}{% endif %}`,
      }),
    ).toEqual([]);
  });
});
