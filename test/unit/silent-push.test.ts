import { describe, expect, it } from "vitest";
import { createPayloadCheck } from "../../src/planning/payload-check.ts";
import { decide } from "../../src/rules/policy.ts";
import { compileRuleBook } from "../../src/rules/rule-book.ts";
import { factsOf } from "../support/recipient-facts.ts";

/** 23:00 UTC: inside the 21:00–08:00 quiet hours. */
const NIGHT = new Date("2026-06-01T23:00:00Z");

function refreshRule(delivery: Record<string, unknown> = {}) {
  const book = compileRuleBook(
    {
      settings: {
        quietHours: { start: "21:00", end: "08:00" },
        frequencyCap: { max: 1, per: "1d" },
      },
      rules: [
        {
          id: "refresh-wishlist",
          trigger: 'event = "Product Updated"',
          message: { silent: true, data: { refresh: "wishlist" } },
          delivery,
        },
      ],
    },
    "test rules",
  );
  const rule = book.rules[0];
  if (rule === undefined) throw new Error("no rule");
  return {
    matchId: "match-1",
    rule,
    settings: book.settings,
    event: { type: "track", event: "Product Updated" },
    triggeredAt: NIGHT,
    timezoneOf: () => "UTC",
    oversize: createPayloadCheck(rule.id),
  };
}

describe("silent pushes", () => {
  it("when a silent rule has no title or body, then it loads, goes now in quiet hours, past the cap, and is stored uncapped", () => {
    const decision = decide(refreshRule(), factsOf({ recentTotal: 5 }));

    expect(decision).toMatchObject({
      status: "pending",
      sendAt: NIGHT,
      deferredBy: [],
      content: {
        title: "",
        body: "",
        data: { refresh: "wishlist" },
        silent: true,
        uncapped: true,
      },
    });
  });

  it("when a silent rule asks for quiet hours and caps, then both apply", () => {
    const input = refreshRule({ quietHours: true, caps: true });

    expect(decide(input, factsOf({ recentTotal: 5 }))).toMatchObject({
      status: "suppressed",
      reason: "frequency_cap",
    });
    expect(decide(input, factsOf())).toMatchObject({
      status: "pending",
      deferredBy: ["quiet_hours"],
    });
  });

  it("when a message that is not silent has neither title nor body, then the rules are refused", () => {
    expect(() =>
      compileRuleBook(
        {
          rules: [
            { id: "x", trigger: 'event = "A"', message: { deepLink: "a://" } },
          ],
        },
        "test rules",
      ),
    ).toThrow(
      /message.title: is required unless the message is "silent": true/,
    );
  });
});
