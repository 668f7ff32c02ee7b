import { describe, expect, it } from "vitest";
import { payloadSizeOf } from "../../src/providers/payload-size.ts";
import { pushMessageOf } from "../../src/providers/push-content.ts";
import { createPayloadCheck } from "../../src/planning/payload-check.ts";
import { decide } from "../../src/rules/policy.ts";
import { compileRuleBook } from "../../src/rules/rule-book.ts";
import { Platform } from "../../src/vocabulary.ts";
import { factsOf } from "../support/recipient-facts.ts";

const IDENTITY = {
  notificationId: "00000000-0000-5000-8000-000000000000",
  ruleId: "news",
  expiresAt: undefined,
};
const FAMILY = "👩‍👩‍👧‍👦"; // four people joined by zero-width joiners: one grapheme
const FLAG = "🇩🇪"; // two regional indicators: one grapheme
const E_ACUTE = "e\u0301"; // e and a combining acute accent: one grapheme
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

const clustersOf = (text: string) =>
  Array.from(graphemes.segment(text), (s) => s.segment);

function pushOf(body: string, truncate: boolean, platform: Platform) {
  return pushMessageOf(
    { title: "Breaking", body, ...(truncate && { truncate: true }) },
    IDENTITY,
    platform,
  );
}

describe("truncate", () => {
  for (const platform of Object.values(Platform))
    it(`when a ${platform} body of emoji, ZWJ sequences, flags and combining marks is too long and truncate is on, then it is cut between graphemes with an ellipsis to fit exactly`, () => {
      const body = `${FAMILY}${FLAG}${E_ACUTE}x`.repeat(400);

      const push = pushOf(body, true, platform);

      const { bytes, limit } = payloadSizeOf(platform, push);
      expect(bytes).toBeLessThanOrEqual(limit);
      expect(push.body.endsWith("…")).toBe(true);
      const kept = push.body.slice(0, -1);
      expect(body.startsWith(kept)).toBe(true);
      // Every cluster kept is whole: the kept text is a prefix in clusters too.
      const clusters = clustersOf(kept);
      expect(clusters).toEqual(clustersOf(body).slice(0, clusters.length));
      // One more cluster would not have fitted.
      const next = clustersOf(body)[clusters.length] ?? "";
      const longer = { ...push, body: `${kept}${next}…` };
      expect(payloadSizeOf(platform, longer).bytes).toBeGreaterThan(limit);
    });

  it("when a body fits, or truncate is off, then it is sent whole", () => {
    const short = `Hi ${FAMILY}`;
    expect(pushOf(short, true, "apns").body).toBe(short);
    const long = E_ACUTE.repeat(3000);
    expect(pushOf(long, false, "apns").body).toBe(long);
  });

  it("when a cut would end between a letter and its combining mark, then the mark stays with its letter", () => {
    const body = `${"a".repeat(3700)}${E_ACUTE.repeat(200)}`;
    for (const platform of Object.values(Platform)) {
      const { body: cut } = pushOf(body, true, platform);
      // The cut falls among the accented letters, after a whole one.
      expect(cut).toContain(E_ACUTE);
      expect(cut.endsWith(`${E_ACUTE}…`)).toBe(true);
    }
  });

  it("when a rule's static body is over every limit and truncate is on, then it loads; without truncate it is refused", () => {
    const rule = (truncate: boolean) => ({
      rules: [
        {
          id: "news",
          trigger: 'event = "Published"',
          message: { title: "News", body: "word ".repeat(1500), truncate },
        },
      ],
    });

    expect(compileRuleBook(rule(true), "rules").rules).toHaveLength(1);
    expect(() => compileRuleBook(rule(false), "rules")).toThrow(
      /static text alone makes the apns payload/,
    );
  });

  it("when a rendered body is too long for the recipient's devices, then with truncate the push is planned, and without it suppressed as payload_too_large", () => {
    const decisionWith = (truncate: boolean) => {
      const book = compileRuleBook(
        {
          rules: [
            {
              id: "news",
              trigger: 'event = "Published"',
              message: {
                title: "News",
                body: "{{ event.properties.text }}",
                truncate,
              },
            },
          ],
        },
        "rules",
      );
      const rule = book.rules[0];
      if (rule === undefined) throw new Error("no rule");
      const devices = Object.values(Platform).map((platform) => ({
        platform,
        locale: null,
      }));
      return decide(
        {
          matchId: "m1",
          rule,
          settings: book.settings,
          event: { properties: { text: `${FAMILY} `.repeat(500) } },
          triggeredAt: new Date("2026-06-01T12:00:00Z"),
          timezoneOf: () => "UTC",
          oversize: createPayloadCheck(rule.id),
        },
        factsOf({ devices }),
      );
    };

    expect(decisionWith(true)).toMatchObject({
      status: "pending",
      content: { truncate: true },
    });
    expect(decisionWith(false)).toMatchObject({
      status: "suppressed",
      reason: "payload_too_large",
    });
  });
});
