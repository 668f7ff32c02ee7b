import { describe, expect, it } from "vitest";
import { decide, type DecisionInput } from "../../src/rules/policy.ts";
import { compileRuleBook, RulesFileError } from "../../src/rules/rule-book.ts";
import {
  appOpenHours,
  chooseSendHour,
  localOpens,
  sendSlots,
  timingArm,
  type LocalOpens,
  type SendHourInput,
} from "../../src/rules/send-time.ts";
import { factsOf } from "../support/recipient-facts.ts";
import { span } from "../support/send-timing.ts";

const DAY = 86_400_000;
const HALF_LIFE = 14 * DAY;
const DAYTIME = span("09:00", "21:00");

/** `count` opens at local `hour`, `days` old. */
const opens = (hour: number, count: number, days = 0): LocalOpens => ({
  hour,
  count,
  ageMs: days * DAY,
});

/** The app's opens per local hour, with `count` at each hour given. */
function appPeak(peaks: Record<number, number>): number[] {
  const hours = new Array<number>(24).fill(0);
  for (const [hour, count] of Object.entries(peaks))
    hours[Number(hour)] = count;
  return hours;
}

function choose(fields: Partial<SendHourInput>) {
  return chooseSendHour({
    opens: [],
    appHours: [],
    window: DAYTIME,
    quietHours: undefined,
    halfLifeMs: HALF_LIFE,
    ...fields,
  });
}

describe("send-time model: the hour chosen for an open history", () => {
  it("when a user opened at one hour most, then their own hour wins over the app's peak", () => {
    const chosen = choose({
      opens: [opens(19, 3), opens(12, 1)],
      appHours: appPeak({ 12: 500 }),
    });
    expect(chosen).toEqual({
      hour: 19,
      source: "own",
      slot: span("19:00", "20:00"),
    });
  });

  it("when old opens outnumber recent ones, then recency weighting flips the choice to the recent hour", () => {
    const history = [opens(10, 3, 60), opens(18, 1, 1)];
    // 3 × 2^(−60/14) ≈ 0.15 against 1 × 2^(−1/14) ≈ 0.95.
    expect(choose({ opens: history }).hour).toBe(18);
    // Without decay, the three old opens would win.
    expect(choose({ opens: history, halfLifeMs: 1e15 }).hour).toBe(10);
  });

  it("when the user's opens weigh less than one open within the half-life, then the app's peak hour decides", () => {
    // One open four weeks ago weighs a quarter.
    const chosen = choose({
      opens: [opens(19, 1, 28)],
      appHours: appPeak({ 13: 40, 20: 10 }),
    });
    expect(chosen).toMatchObject({ hour: 13, source: "app" });
    // One open three days ago is enough.
    expect(
      choose({ opens: [opens(19, 1, 3)], appHours: appPeak({ 13: 40 }) }),
    ).toMatchObject({ hour: 19, source: "own" });
  });

  it("when neither the user nor the app has opens in the window, then the window's opening is used, with the whole window", () => {
    expect(choose({})).toEqual({
      hour: 9,
      source: "window",
      slot: undefined,
    });
    expect(
      choose({ opens: [opens(23, 9)], appHours: appPeak({ 3: 100 }) }),
    ).toMatchObject({ hour: 9, source: "window" });
  });

  it("when the user opens most outside the window, then those hours are ignored and their best hour inside it is chosen", () => {
    const chosen = choose({
      opens: [opens(23, 20), opens(7, 9), opens(20, 2)],
    });
    expect(chosen).toMatchObject({ hour: 20, source: "own" });
  });

  it("when two hours weigh the same, then the one earliest in the window wins, across midnight too", () => {
    expect(choose({ opens: [opens(15, 2), opens(11, 2)] }).hour).toBe(11);
    const lateNight = span("22:00", "02:00");
    expect(
      choose({ window: lateNight, opens: [opens(1, 2), opens(23, 2)] }),
    ).toMatchObject({ hour: 23, slot: span("23:00", "00:00") });
  });

  it("when the window starts within an hour or the hour lies in quiet hours, then the slot is the part of the window the push can go in", () => {
    expect(sendSlots(span("18:30", "21:15"), undefined)).toEqual([
      { hour: 18, slot: span("18:30", "19:00") },
      { hour: 19, slot: span("19:00", "20:00") },
      { hour: 20, slot: span("20:00", "21:00") },
      { hour: 21, slot: span("21:00", "21:15") },
    ]);
    const quiet = span("20:00", "08:00");
    const chosen = choose({
      opens: [opens(20, 9), opens(19, 1)],
      quietHours: quiet,
    });
    expect(chosen).toMatchObject({ hour: 19, source: "own" });
  });
});

describe("send-time model: local hours of opens", () => {
  it("when opens fall either side of a DST change, then each keeps the hour the user's clock read", () => {
    const now = new Date("2026-04-01T00:00:00Z");
    // 17:15 UTC is 18:15 in Berlin before 29 March (CET) and 19:15 after (CEST).
    const local = localOpens(
      [
        { at: new Date("2026-03-28T17:15:00Z"), count: 1 },
        { at: new Date("2026-03-29T17:15:00Z"), count: 2 },
      ],
      "Europe/Berlin",
      now,
    );
    expect(local.map((o) => o.hour)).toEqual([18, 19]);
    expect(local[1]?.ageMs).toBe(
      now.getTime() - Date.parse("2026-03-29T17:15:00Z"),
    );
  });

  it("when the app's opens come from several timezones, then each counts at its user's local hour", () => {
    const at = new Date("2026-07-01T17:45:00Z");
    const hours = appOpenHours([
      { timezone: "Europe/Berlin", at, count: 2 },
      { timezone: "Asia/Kathmandu", at, count: 1 },
      { timezone: "UTC", at, count: 4 },
    ]);
    expect(hours[19]).toBe(2);
    expect(hours[23]).toBe(1); // 23:30 in Kathmandu (+05:45)
    expect(hours[17]).toBe(4);
  });
});

describe("send-time arms", () => {
  it("when many users are drawn, then about the control share is in control, and a user stays in one arm", () => {
    const arms = Array.from({ length: 10_000 }, (_, i) =>
      timingArm("rule", `user-${i}`, 0.1),
    );
    const control = arms.filter((arm) => arm === "control").length;
    expect(control).toBeGreaterThan(850);
    expect(control).toBeLessThan(1150);
    expect(timingArm("rule", "user-7", 0.1)).toBe(arms[7]);
    expect(timingArm("rule", "user-7", 0)).toBe("optimized");
  });
});

const NOON = new Date("2026-07-01T10:00:00Z"); // noon in Berlin

function inputOf(window: object, fields: Partial<DecisionInput> = {}) {
  const book = compileRuleBook(
    {
      rules: [
        {
          id: "digest",
          trigger: 'event = "Digest"',
          message: { title: "Your week", body: "…" },
          delivery: { window, quietHours: false, ttl: "2d" },
        },
      ],
    },
    "test rules",
  );
  const [rule] = book.rules;
  if (rule === undefined) throw new Error("no rule");
  return {
    matchId: "match-1",
    rule,
    settings: book.settings,
    event: { type: "track", event: "Digest" },
    triggeredAt: NOON,
    timezoneOf: (zone: string | null) => zone ?? "UTC",
    oversize: () => undefined,
    ...fields,
  };
}

/** A user in the optimized arm (not in control) of rule "digest" at 10%. */
const optimizedUser = Array.from({ length: 50 }, (_, i) => `u${i}`).find(
  (id) => timingArm("digest", id, 0.1) === "optimized",
) as string;
const controlUser = Array.from({ length: 200 }, (_, i) => `u${i}`).find(
  (id) => timingArm("digest", id, 0.1) === "control",
) as string;

describe("learned send time in the policy", () => {
  const window = { start: "09:00", end: "21:00", optimize: true };

  it("when an optimized user opens at 19:00 in Berlin, then their push waits for 19:00 there, deferred by the window", () => {
    const decision = decide(
      inputOf(window),
      factsOf({
        userId: optimizedUser,
        timezone: "Europe/Berlin",
        opens: [opens(19, 2)],
      }),
    );
    expect(decision).toMatchObject({
      status: "pending",
      timing: "optimized",
      sendAt: new Date("2026-07-01T17:00:00Z"),
      deferredBy: ["window"],
      sendTime: { timing: "optimized", hour: "19:00", source: "own" },
    });
  });

  it("when a user is in the control share, then they go as the window alone sends, now inside it", () => {
    const decision = decide(
      inputOf(window),
      factsOf({
        userId: controlUser,
        timezone: "Europe/Berlin",
        opens: [opens(19, 2)],
      }),
    );
    expect(decision).toMatchObject({
      status: "pending",
      timing: "control",
      sendAt: NOON,
      sendTime: { timing: "control", hour: "09:00", source: "control" },
    });
  });

  it("when the chosen hour is the one the clocks skip, then the push goes when they jump", () => {
    // 29 March 2026, Berlin: 02:00 CET becomes 03:00 CEST (01:00 UTC).
    const decision = decide(
      inputOf(
        { start: "01:00", end: "05:00", optimize: true },
        { triggeredAt: new Date("2026-03-28T23:30:00Z") },
      ),
      factsOf({
        userId: optimizedUser,
        timezone: "Europe/Berlin",
        opens: [opens(2, 3)],
      }),
    );
    expect(decision).toMatchObject({
      status: "pending",
      sendAt: new Date("2026-03-29T01:00:00Z"),
      sendTime: { hour: "02:00", source: "own" },
    });
  });

  it("when the chosen hour has passed but the window is still open, then the push goes at once rather than a day late", () => {
    const decision = decide(
      inputOf(window, { triggeredAt: new Date("2026-07-01T18:30:00Z") }),
      factsOf({
        userId: optimizedUser,
        timezone: "Europe/Berlin",
        opens: [opens(19, 2)],
      }),
    );
    expect(decision).toMatchObject({
      sendAt: new Date("2026-07-01T18:30:00Z"),
      deferredBy: [],
    });
  });

  it("when the ttl ends before the chosen hour, then the push falls back to the window rather than expire", () => {
    const input = inputOf(window);
    const rule = {
      ...input.rule,
      delivery: { ...input.rule.delivery, ttl: "2h" },
    };
    const decision = decide(
      { ...input, rule },
      factsOf({
        userId: optimizedUser,
        timezone: "Europe/Berlin",
        opens: [opens(19, 2)],
      }),
    );
    expect(decision).toMatchObject({
      status: "pending",
      sendAt: NOON,
      sendTime: { timing: "optimized", hour: "09:00", source: "window" },
    });
  });

  it("when optimize is combined with spread, then the rules are refused with a clear message", () => {
    expect(() =>
      inputOf({ start: "09:00", end: "21:00", spread: true, optimize: true }),
    ).toThrow(RulesFileError);
    try {
      inputOf({ start: "09:00", end: "21:00", spread: true, optimize: true });
    } catch (error) {
      expect((error as RulesFileError).problems.join("\n")).toMatch(
        /spread and optimize/,
      );
    }
  });
});
