import { describe, expect, it } from "vitest";
import { liesWithin, windowOf } from "../../src/rules/delivery-window.ts";
import {
  decide,
  decideEach,
  SuppressionReason,
  type Decision,
  type DecisionInput,
} from "../../src/rules/policy.ts";
import { compileRuleBook, RulesFileError } from "../../src/rules/rule-book.ts";
import { factsOf } from "../support/recipient-facts.ts";

/** Noon UTC: outside an 18:00–22:00 window in UTC, Berlin and New York. */
const NOON = new Date("2026-06-01T12:00:00Z");
const EVENING = { start: "18:00", end: "22:00" };
const NIGHT = { start: "21:00", end: "08:00" };

function rule(delivery: Record<string, unknown> = {}, id = "evening") {
  return {
    id,
    trigger: 'event = "Sale"',
    message: { title: "Sale", body: "Now on" },
    delivery,
  };
}

function compile(settings: object, rules: object[]) {
  return compileRuleBook({ settings, rules }, "test rules");
}

function inputOf(
  settings: object,
  delivery: Record<string, unknown>,
  fields: Partial<DecisionInput> = {},
): DecisionInput {
  const book = compile(settings, [rule(delivery)]);
  const [compiled] = book.rules;
  if (compiled === undefined) throw new Error("no rule");
  return {
    matchId: "match-1",
    rule: compiled,
    settings: book.settings,
    event: { type: "track", event: "Sale" },
    triggeredAt: NOON,
    timezoneOf: (zone) => zone ?? "UTC",
    oversize: () => undefined,
    ...fields,
  };
}

function pending(decision: Decision) {
  if (decision.status !== "pending")
    throw new Error(`expected pending, got ${decision.reason}`);
  return decision;
}

function problemsOf(settings: object, rules: object[]): readonly string[] {
  try {
    compile(settings, rules);
    return [];
  } catch (error) {
    if (error instanceof RulesFileError) return error.problems;
    throw error;
  }
}

describe("windowOf", () => {
  const byDefault = { ...EVENING, spread: true };

  it("when a rule sets no window, then it takes the settings' default, spread included", () => {
    expect(windowOf(undefined, byDefault)).toEqual({
      start: 18 * 60,
      end: 22 * 60,
      spread: true,
    });
    expect(windowOf(undefined, undefined)).toBeUndefined();
  });

  it("when a rule sets its own window, then it replaces the default whole; false sends at any hour", () => {
    expect(
      windowOf({ start: "09:00", end: "11:30", spread: false }, byDefault),
    ).toEqual({ start: 9 * 60, end: 11 * 60 + 30, spread: false });
    expect(windowOf(false, byDefault)).toBeUndefined();
  });
});

describe("liesWithin", () => {
  it("when every minute of the window is in quiet hours, then it lies within them, across midnight too", () => {
    const night = { start: 21 * 60, end: 8 * 60 };
    expect(liesWithin({ start: 22 * 60, end: 23 * 60 }, night)).toBe(true);
    expect(liesWithin({ start: 23 * 60, end: 7 * 60 }, night)).toBe(true);
    expect(liesWithin({ start: 21 * 60, end: 8 * 60 }, night)).toBe(true);
    expect(liesWithin({ start: 20 * 60, end: 23 * 60 }, night)).toBe(false);
    expect(liesWithin({ start: 7 * 60, end: 9 * 60 }, night)).toBe(false);
  });
});

describe("compileRuleBook: delivery windows", () => {
  it("when a window's start equals its end, then it is refused at load, in settings and in a rule", () => {
    const problems = problemsOf(
      { deliveryWindow: { start: "18:00", end: "18:00" } },
      [rule({ window: { start: "09:00", end: "09:00" } })],
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^settings\.deliveryWindow\.end: start and end are the same time/,
      ),
      expect.stringMatching(
        /^rules\[0\] "evening"\.delivery\.window\.end: start and end are the same time/,
      ),
    ]);
  });

  it("when a window lies wholly in quiet hours of a rule that keeps them, then the rule, or the default it takes, is refused", () => {
    const problems = problemsOf(
      { quietHours: NIGHT, deliveryWindow: { start: "22:00", end: "23:00" } },
      [
        rule({}, "takes-default"),
        rule({ window: { start: "23:00", end: "07:00" } }, "own"),
        rule({ quietHours: false }, "ignores-quiet"),
        rule({ window: false }, "no-window"),
      ],
    );
    expect(problems).toEqual([
      'rules[1] "own".delivery.window: 23:00–07:00 lies within settings.quietHours (21:00–08:00), so the rule would never send: widen the window, or set delivery.quietHours to false',
      'settings.deliveryWindow: 22:00–23:00 lies within settings.quietHours (21:00–08:00), so the rules that take it and keep quiet hours ("takes-default") would never send: widen the window, or give those rules their own',
    ]);
  });

  it("when the quiet hours come from a preset, then a window within them is refused too, and one the settings turn off is not", () => {
    const evening = rule({ window: { start: "22:00", end: "23:00" } }, "late");
    expect(problemsOf({ preset: "commerce" }, [evening])).toEqual([
      expect.stringMatching(
        /^rules\[0\] "late"\.delivery\.window: 22:00–23:00 lies within settings\.quietHours \(21:00–09:00\)/,
      ),
    ]);
    expect(
      problemsOf({ preset: "commerce", quietHours: false }, [evening]),
    ).toEqual([]);
  });

  it("when a window overlaps quiet hours only in part, or no rule takes a mute default, then the file loads", () => {
    expect(
      problemsOf({ quietHours: NIGHT }, [
        rule({ window: { start: "20:00", end: "23:00" } }),
      ]),
    ).toEqual([]);
    expect(
      problemsOf(
        { quietHours: NIGHT, deliveryWindow: { start: "22:00", end: "23:00" } },
        [rule({ window: EVENING })],
      ),
    ).toEqual([]);
  });
});

describe("decide: a delivery window", () => {
  it("when planned before the window opens, then the message is pending until its opening, deferred by the window", () => {
    const decision = pending(
      decide(inputOf({}, { window: EVENING }), factsOf()),
    );
    expect(decision.sendAt).toEqual(new Date("2026-06-01T18:00:00Z"));
    expect(decision.deferredBy).toEqual(["window"]);
  });

  it("when planned inside the window, then it goes now", () => {
    const at = new Date("2026-06-01T19:15:00Z");
    const decision = pending(
      decide(inputOf({}, { window: EVENING }, { triggeredAt: at }), factsOf()),
    );
    expect(decision.sendAt).toEqual(at);
    expect(decision.deferredBy).toEqual([]);
  });

  it("when the settings set a default window, then rules take it unless they set their own or false", () => {
    const settings = { deliveryWindow: EVENING };
    const sendAt = (delivery: Record<string, unknown>) =>
      pending(decide(inputOf(settings, delivery), factsOf())).sendAt;
    expect(sendAt({})).toEqual(new Date("2026-06-01T18:00:00Z"));
    expect(sendAt({ window: { start: "14:00", end: "16:00" } })).toEqual(
      new Date("2026-06-01T14:00:00Z"),
    );
    expect(sendAt({ window: false })).toEqual(NOON);
  });

  it("when the window is in the user's timezone, then each recipient waits for their own evening", () => {
    const input = inputOf({}, { window: EVENING });
    const [berlin, newYork] = decideEach(input, [
      factsOf({ userId: "a", timezone: "Europe/Berlin" }),
      factsOf({ userId: "b", timezone: "America/New_York" }),
    ]).map(pending);
    expect(berlin?.sendAt).toEqual(new Date("2026-06-01T16:00:00Z"));
    expect(newYork?.sendAt).toEqual(new Date("2026-06-01T22:00:00Z"));
  });

  it("when the ttl ends before the window opens, then the message is suppressed as expired, never sent late", () => {
    const expired = decide(
      inputOf({}, { window: EVENING, ttl: "4h" }),
      factsOf(),
    );
    expect(expired).toMatchObject({
      status: "suppressed",
      reason: SuppressionReason.expired,
    });
    const kept = pending(
      decide(inputOf({}, { window: EVENING, ttl: "6h" }), factsOf()),
    );
    expect(kept.expiresAt).toEqual(new Date("2026-06-01T18:00:00Z"));
  });

  it("when a delay, the window and quiet hours all apply, then the message waits for each and records all three", () => {
    // 16:00 plus 3h is 19:00, in the window but quiet from 19:00; the next evening
    // opens at 18:00, outside quiet hours.
    const decision = pending(
      decide(
        inputOf(
          { quietHours: { start: "19:00", end: "08:00" } },
          { window: EVENING, delay: "3h" },
          { triggeredAt: new Date("2026-06-01T16:00:00Z") },
        ),
        factsOf(),
      ),
    );
    expect(decision.sendAt).toEqual(new Date("2026-06-02T18:00:00Z"));
    expect(decision.deferredBy).toEqual(["delay", "quiet_hours", "window"]);
  });
});

describe("decide: a spread window", () => {
  const spread = { window: { ...EVENING, spread: true } };
  const users = Array.from({ length: 400 }, (_, i) =>
    factsOf({ userId: `user-${String(i)}` }),
  );

  it("when a large audience is planned before the window, then its sends fall evenly over the window", () => {
    const times = decideEach(inputOf({}, spread), users).map((d) =>
      pending(d).sendAt.getTime(),
    );
    const opening = Date.parse("2026-06-01T18:00:00Z");
    const hour = 3_600_000;
    const perHour = [0, 0, 0, 0];
    for (const time of times) {
      expect(time).toBeGreaterThanOrEqual(opening);
      expect(time).toBeLessThan(opening + 4 * hour);
      const slot = Math.floor((time - opening) / hour);
      perHour[slot] = (perHour[slot] ?? 0) + 1;
    }
    // 100 expected per hour; a fair draw of 400 stays well within 60–140.
    for (const count of perHour) expect(count).toBeGreaterThan(60);
    for (const count of perHour) expect(count).toBeLessThan(140);
  });

  it("when the same match is decided again, then each recipient gets the same time; another match draws anew", () => {
    const first = decideEach(inputOf({}, spread), users.slice(0, 20));
    const again = users
      .slice(0, 20)
      .map((facts) => decide(inputOf({}, spread), facts));
    expect(again).toEqual(first);
    const other = decideEach(
      inputOf({}, spread, { matchId: "match-2" }),
      users.slice(0, 20),
    );
    expect(other.map((d) => pending(d).sendAt)).not.toEqual(
      first.map((d) => pending(d).sendAt),
    );
  });

  it("when planned inside the window, then the sends fall between now and the close; none goes after the ttl", () => {
    const now = new Date("2026-06-01T21:00:00Z");
    const decisions = decideEach(
      inputOf({}, { ...spread, ttl: "30m" }, { triggeredAt: now }),
      users,
    ).map(pending);
    const times = new Set(decisions.map((d) => d.sendAt.getTime()));
    expect(times.size).toBeGreaterThan(300);
    for (const { sendAt } of decisions) {
      expect(sendAt >= now).toBe(true);
      // The ttl ends at 21:30, before the 22:00 close.
      expect(sendAt <= new Date("2026-06-01T21:30:00Z")).toBe(true);
    }
  });
});
