import { describe, expect, it } from "vitest";
import {
  decide,
  decideEach,
  finalCheck,
  SuppressionReason,
  type DecisionInput,
  type RecipientFacts,
} from "../../src/rules/policy.ts";
import { createPayloadCheck } from "../../src/planning/payload-check.ts";
import { compileRuleBook } from "../../src/rules/rule-book.ts";
import { assignVariant, HOLDOUT } from "../../src/rules/variant.ts";
import { factsOf } from "../support/recipient-facts.ts";

/** Noon UTC: outside the 21:00–08:00 quiet hours in UTC and in Berlin. */
const NOON = new Date("2026-06-01T12:00:00Z");
const HOUR = 3_600_000;
const NIGHT = { start: "21:00", end: "08:00" };

const EVENT = {
  type: "track",
  event: "Product Updated",
  properties: { name: "Lamp", price: 25 },
};

type Document = { settings: Record<string, any>; rule: Record<string, any> };

/** A one-rule document; tests change its parts before compiling. */
function document(): Document {
  return {
    settings: {
      categories: {
        promotions: { default: "in" },
        news: { default: "out" },
      },
    },
    rule: {
      id: "price-drop",
      trigger: 'event = "Product Updated"',
      message: {
        title: "{{ event.properties.name }} is on sale",
        body: "Hi {{ profile.traits.first_name | default: 'there' }}, now {{ event.properties.price }}",
        locales: {
          de: { title: "{{ event.properties.name }} ist reduziert" },
          fr: { title: "{{ event.properties.name }} en solde" },
        },
      },
    },
  };
}

function planOf(
  doc: Document,
  overrides: Partial<Omit<DecisionInput, "rule" | "settings">> = {},
): DecisionInput {
  const book = compileRuleBook(
    { settings: doc.settings, rules: [doc.rule] },
    "test rules",
  );
  const [rule] = book.rules;
  if (rule === undefined) throw new Error("the document has no rule");
  return {
    matchId: "match-1",
    rule,
    settings: book.settings,
    event: EVENT,
    triggeredAt: NOON,
    timezoneOf: (zone) => zone ?? "UTC",
    oversize: createPayloadCheck(rule.id),
    ...overrides,
  };
}

function pending(decision: ReturnType<typeof decide>) {
  if (decision.status !== "pending")
    throw new Error(`expected pending, got ${decision.reason}`);
  return decision;
}

function reasonOf(decision: ReturnType<typeof decide>) {
  return decision.status === "suppressed" ? decision.reason : "pending";
}

describe("decide: a recipient with nothing in the way", () => {
  it("when nothing stops or defers the message, then it is pending now with rendered content", () => {
    const decision = decide(planOf(document()), factsOf());
    expect(decision).toEqual({
      status: "pending",
      variant: undefined,
      sendAt: NOON,
      deferredBy: [],
      expiresAt: undefined,
      content: { title: "Lamp is on sale", body: "Hi Ada, now 25", data: {} },
    });
  });

  it("when the message names profile and item fields, then they come from the facts", () => {
    const doc = document();
    doc.rule.message = {
      title: "{{ profile.userId }} / {{ profile.timezone }}",
      body: "{{ item.size }} {{ profile.traits.first_name }}",
    };
    const { content } = pending(
      decide(
        planOf(doc),
        factsOf({ timezone: "Europe/Berlin", item: { size: "M" } }),
      ),
    );
    expect(content.title).toBe("user-1 / Europe/Berlin");
    expect(content.body).toBe("M Ada");
  });
});

describe("decide: suppression reasons in their documented order", () => {
  it("when every reason applies, then lifting them one by one reveals each in order", () => {
    const doc = document();
    doc.settings.frequencyCap = { max: 2, per: "1d" };
    doc.rule.category = "news"; // default "out"
    doc.rule.holdout = 1;
    doc.rule.delivery = {
      delay: "2h",
      ttl: "1h",
      frequencyCap: { max: 1, per: "1d" },
    };
    doc.rule.message = {
      title: "{{ event.properties.colour }}",
      body: "{{ event.properties.colour }}",
    };
    let facts = factsOf({
      devices: [],
      optedOut: true,
      duplicate: true,
      recentTotal: 2,
      recentForRule: 1,
    });
    const lifts: [SuppressionReason, () => void][] = [
      [
        SuppressionReason.noDevice,
        () => (facts = { ...facts, devices: factsOf().devices }),
      ],
      [
        SuppressionReason.optedOut,
        () => (facts = { ...facts, optedOut: false }),
      ],
      [
        SuppressionReason.categoryOptedOut,
        () => (facts = { ...facts, categoryChoice: true }),
      ],
      [SuppressionReason.holdout, () => (doc.rule.holdout = 0)],
      [
        SuppressionReason.duplicate,
        () => (facts = { ...facts, duplicate: false }),
      ],
      [
        SuppressionReason.frequencyCap,
        () => (facts = { ...facts, recentTotal: 1 }),
      ],
      [
        SuppressionReason.ruleFrequencyCap,
        () => (facts = { ...facts, recentForRule: 0 }),
      ],
      [SuppressionReason.expired, () => (doc.rule.delivery.ttl = "3h")],
      [
        SuppressionReason.emptyMessage,
        () => (doc.rule.message = { title: "", body: "Back in stock" }),
      ],
    ];
    const seen: string[] = [];
    for (const [, lift] of lifts) {
      seen.push(reasonOf(decide(planOf(doc), facts)));
      lift();
    }
    expect(seen).toEqual(lifts.map(([reason]) => reason));
    // The empty message is the last stop: with a text, the message goes.
    expect(reasonOf(decide(planOf(doc), facts))).toBe("pending");
  });

  it("when a device is missing and the user opted out too, then no_device wins", () => {
    expect(
      reasonOf(
        decide(planOf(document()), factsOf({ devices: [], optedOut: true })),
      ),
    ).toBe(SuppressionReason.noDevice);
  });

  it("when the user opted out of everything and of the category, then opted_out wins", () => {
    const doc = document();
    doc.rule.category = "promotions";
    expect(
      reasonOf(
        decide(planOf(doc), factsOf({ optedOut: true, categoryChoice: false })),
      ),
    ).toBe(SuppressionReason.optedOut);
  });

  it("when a user is held out and would also hit the cap, then holdout wins and carries variant holdout", () => {
    const doc = document();
    doc.settings.frequencyCap = { max: 1, per: "1d" };
    doc.rule.holdout = 1;
    doc.rule.variants = [
      { id: "a", weight: 1 },
      { id: "b", weight: 1 },
    ];
    expect(
      decide(planOf(doc), factsOf({ duplicate: true, recentTotal: 5 })),
    ).toEqual({
      status: "suppressed",
      reason: SuppressionReason.holdout,
      variant: HOLDOUT,
    });
  });

  it("when the global and the rule cap are both reached, then frequency_cap wins", () => {
    const doc = document();
    doc.settings.frequencyCap = { max: 1, per: "1d" };
    doc.rule.delivery = { frequencyCap: { max: 1, per: "1h" } };
    expect(
      reasonOf(
        decide(planOf(doc), factsOf({ recentTotal: 1, recentForRule: 1 })),
      ),
    ).toBe(SuppressionReason.frequencyCap);
  });
});

describe("decide: categories", () => {
  function decisionFor(category: string, choice: boolean | undefined) {
    const doc = document();
    doc.rule.category = category;
    return reasonOf(decide(planOf(doc), factsOf({ categoryChoice: choice })));
  }

  it("when the user explicitly opted out of a default-in category, then category_opted_out", () => {
    expect(decisionFor("promotions", false)).toBe(
      SuppressionReason.categoryOptedOut,
    );
    expect(decisionFor("promotions", undefined)).toBe("pending");
  });

  it("when a category defaults to out, then only an explicit opt-in lets messages through", () => {
    expect(decisionFor("news", undefined)).toBe(
      SuppressionReason.categoryOptedOut,
    );
    expect(decisionFor("news", true)).toBe("pending");
  });

  it("when the rule has no category, then a category choice does not matter", () => {
    expect(
      reasonOf(decide(planOf(document()), factsOf({ categoryChoice: false }))),
    ).toBe("pending");
  });
});

describe("decide: frequency caps", () => {
  it("when recent messages are below the global cap, then it passes; at the cap it stops", () => {
    const doc = document();
    doc.settings.frequencyCap = { max: 3, per: "1d" };
    const plan = planOf(doc);
    expect(reasonOf(decide(plan, factsOf({ recentTotal: 2 })))).toBe("pending");
    expect(reasonOf(decide(plan, factsOf({ recentTotal: 3 })))).toBe(
      SuppressionReason.frequencyCap,
    );
    expect(reasonOf(decide(plan, factsOf({ recentTotal: 4 })))).toBe(
      SuppressionReason.frequencyCap,
    );
  });

  it("when recent messages of the rule are below its cap, then it passes; at the cap it stops", () => {
    const doc = document();
    doc.rule.delivery = { frequencyCap: { max: 2, per: "1d" } };
    const plan = planOf(doc);
    expect(reasonOf(decide(plan, factsOf({ recentForRule: 1 })))).toBe(
      "pending",
    );
    expect(reasonOf(decide(plan, factsOf({ recentForRule: 2 })))).toBe(
      SuppressionReason.ruleFrequencyCap,
    );
  });

  it("when no cap is configured, then any number of recent messages passes", () => {
    expect(
      reasonOf(
        decide(
          planOf(document()),
          factsOf({ recentTotal: 1000, recentForRule: 1000 }),
        ),
      ),
    ).toBe("pending");
  });
});

describe("decide: delay and quiet hours", () => {
  it("when the rule has a delay, then the message is deferred by it", () => {
    const doc = document();
    doc.rule.delivery = { delay: "90m" };
    const decision = pending(decide(planOf(doc), factsOf()));
    expect(decision.sendAt).toEqual(new Date(NOON.getTime() + 1.5 * HOUR));
    expect(decision.deferredBy).toEqual(["delay"]);
  });

  it("when it is night in the user's timezone, then quiet hours defer until the morning there", () => {
    const doc = document();
    doc.settings.quietHours = NIGHT;
    // 19:30Z is 21:30 in Berlin (CEST) but not yet 21:00 in UTC.
    const plan = planOf(doc, { triggeredAt: new Date("2026-06-01T19:30:00Z") });
    const berlin = pending(
      decide(plan, factsOf({ timezone: "Europe/Berlin" })),
    );
    expect(berlin.sendAt).toEqual(new Date("2026-06-02T06:00:00Z"));
    expect(berlin.deferredBy).toEqual(["quiet_hours"]);
    const utc = pending(decide(plan, factsOf({ timezone: null })));
    expect(utc.sendAt).toEqual(new Date("2026-06-01T19:30:00Z"));
    expect(utc.deferredBy).toEqual([]);
  });

  it("when the profile has no timezone, then the zone comes from timezoneOf", () => {
    const doc = document();
    doc.settings.quietHours = NIGHT;
    const plan = planOf(doc, {
      triggeredAt: new Date("2026-06-01T19:30:00Z"),
      timezoneOf: (zone) => zone ?? "Europe/Berlin",
    });
    expect(pending(decide(plan, factsOf())).sendAt).toEqual(
      new Date("2026-06-02T06:00:00Z"),
    );
  });

  it("when a delay lands in quiet hours, then both defer the message", () => {
    const doc = document();
    doc.settings.quietHours = NIGHT;
    doc.rule.delivery = { delay: "1h" };
    // 18:30Z is 20:30 in Berlin; an hour later it is quiet.
    const decision = pending(
      decide(
        planOf(doc, { triggeredAt: new Date("2026-06-01T18:30:00Z") }),
        factsOf({ timezone: "Europe/Berlin" }),
      ),
    );
    expect(decision.sendAt).toEqual(new Date("2026-06-02T06:00:00Z"));
    expect(decision.deferredBy).toEqual(["delay", "quiet_hours"]);
  });

  it("when the rule switches quiet hours off, then a night-time message is not deferred", () => {
    const doc = document();
    doc.settings.quietHours = NIGHT;
    doc.rule.delivery = { quietHours: false };
    const night = new Date("2026-06-01T23:00:00Z");
    const decision = pending(
      decide(planOf(doc, { triggeredAt: night }), factsOf()),
    );
    expect(decision.sendAt).toEqual(night);
    expect(decision.deferredBy).toEqual([]);
  });
});

describe("decide: expiry", () => {
  it("when the ttl is shorter than the delay, then the message expires", () => {
    const doc = document();
    doc.rule.delivery = { delay: "1h", ttl: "30m" };
    expect(reasonOf(decide(planOf(doc), factsOf()))).toBe(
      SuppressionReason.expired,
    );
  });

  it("when the ttl equals the delay, then the message is sent right at its expiry", () => {
    const doc = document();
    doc.rule.delivery = { delay: "1h", ttl: "1h" };
    const decision = pending(decide(planOf(doc), factsOf()));
    expect(decision.expiresAt).toEqual(new Date(NOON.getTime() + HOUR));
    expect(decision.sendAt).toEqual(decision.expiresAt);
  });

  it("when quiet hours defer past the ttl, then the message expires; a longer ttl keeps it", () => {
    const doc = document();
    doc.settings.quietHours = NIGHT;
    doc.rule.delivery = { ttl: "8h" };
    // 22:00Z: deferred to 08:00Z, ten hours later.
    const triggeredAt = new Date("2026-06-01T22:00:00Z");
    expect(reasonOf(decide(planOf(doc, { triggeredAt }), factsOf()))).toBe(
      SuppressionReason.expired,
    );
    doc.rule.delivery = { ttl: "12h" };
    const decision = pending(decide(planOf(doc, { triggeredAt }), factsOf()));
    expect(decision.sendAt).toEqual(new Date("2026-06-02T08:00:00Z"));
    expect(decision.expiresAt).toEqual(new Date("2026-06-02T10:00:00Z"));
  });
});

describe("decide: variants", () => {
  it("when a rule has variants, then the decision carries the user's variant and its text", () => {
    const doc = document();
    doc.rule.variants = [
      { id: "a", weight: 1 },
      { id: "b", weight: 1, message: { title: "Price drop" } },
    ];
    const plan = planOf(doc);
    const seen = new Set<string | undefined>();
    for (let n = 0; n < 40; n++) {
      const userId = `user-${n}`;
      const decision = pending(decide(plan, factsOf({ userId })));
      const expected = assignVariant(
        plan.rule.id,
        userId,
        plan.rule.variants,
        0,
      );
      expect(decision.variant).toBe(expected);
      expect(decision.content.title).toBe(
        expected === "b" ? "Price drop" : "Lamp is on sale",
      );
      seen.add(decision.variant);
    }
    expect([...seen].sort()).toEqual(["a", "b"]);
  });
});

describe("decide: locale of the content", () => {
  function localeFor(
    facts: Partial<RecipientFacts>,
    defaultLocale?: string,
  ): [string | undefined, string] {
    const doc = document();
    if (defaultLocale !== undefined) doc.settings.defaultLocale = defaultLocale;
    const { content } = pending(decide(planOf(doc), factsOf(facts)));
    return [content.locale, content.title];
  }

  it("when the profile has a locale, then it is used before the devices'", () => {
    expect(
      localeFor({
        locale: "de-AT",
        devices: [{ platform: "fcm", locale: "fr" }],
      }),
    ).toEqual(["de", "Lamp ist reduziert"]);
  });

  it("when the profile's locale has no text, then the devices' locales are tried in turn", () => {
    expect(
      localeFor({
        locale: "it",
        devices: [
          { platform: "apns", locale: null },
          { platform: "webpush", locale: "es" },
          { platform: "fcm", locale: "fr_CA" },
        ],
      }),
    ).toEqual(["fr", "Lamp en solde"]);
  });

  it("when neither profile nor devices match, then settings.defaultLocale is used", () => {
    expect(localeFor({ locale: "it" }, "de")).toEqual([
      "de",
      "Lamp ist reduziert",
    ]);
  });

  it("when nothing matches, then the default text is sent without a locale", () => {
    expect(localeFor({ locale: "it" })).toEqual([undefined, "Lamp is on sale"]);
  });
});

describe("decide: empty messages", () => {
  it("when title and body both render empty, then empty_message; either one is enough", () => {
    const doc = document();
    doc.rule.message = {
      title: "{{ event.properties.colour }}",
      body: "{{ item.name }}",
    };
    const plan = planOf(doc);
    expect(reasonOf(decide(plan, factsOf()))).toBe(
      SuppressionReason.emptyMessage,
    );
    const withItem = pending(decide(plan, factsOf({ item: { name: "Lamp" } })));
    expect(withItem.content).toEqual({ title: "", body: "Lamp", data: {} });
  });
});

describe("decideEach: a page of recipients", () => {
  it("when many recipients share timezones and locales, then each decision is the one decide makes alone", () => {
    const doc = document();
    doc.settings.quietHours = NIGHT;
    doc.rule.delivery = { ttl: "12h" };
    doc.rule.variants = [
      { id: "a", weight: 50 },
      {
        id: "b",
        weight: 50,
        message: { title: "Price drop: {{ event.properties.name }}" },
      },
    ];
    doc.rule.holdout = 0.1;
    // 20:30Z: evening in UTC, night in Berlin, afternoon in New York, morning in Tokyo.
    const plan = planOf(doc, { triggeredAt: new Date("2026-06-01T20:30:00Z") });
    const zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", null];
    const recipients = Array.from({ length: 40 }, (_, n) =>
      factsOf({
        userId: `user-${n}`,
        timezone: zones[n % zones.length] ?? null,
        locale: n % 3 === 0 ? "de-DE" : "en-US",
        traits: n % 5 === 0 ? {} : { first_name: `Name ${n}` },
        devices: n % 7 === 0 ? [] : [{ platform: "fcm", locale: null }],
      }),
    );
    const decisions = decideEach(plan, recipients);
    expect(decisions).toEqual(recipients.map((facts) => decide(plan, facts)));
    expect(new Set(decisions.map((d) => d.status))).toEqual(
      new Set(["pending", "suppressed"]),
    );
  });

  it("when two recipients share a schedule, then they share no Date or array that one could change for the other", () => {
    const doc = document();
    doc.settings.quietHours = NIGHT;
    doc.rule.delivery = { ttl: "12h" };
    const plan = planOf(doc, { triggeredAt: new Date("2026-06-01T19:30:00Z") });
    const berlin = { timezone: "Europe/Berlin" };
    const [first, second] = decideEach(plan, [
      factsOf({ ...berlin, userId: "user-1" }),
      factsOf({ ...berlin, userId: "user-2" }),
    ]).map(pending);
    expect(first?.sendAt).toEqual(second?.sendAt);
    expect(first?.sendAt).not.toBe(second?.sendAt);
    expect(first?.expiresAt).not.toBe(second?.expiresAt);
    expect(first?.deferredBy).not.toBe(second?.deferredBy);
  });
});

describe("finalCheck", () => {
  const doc = document();
  doc.settings.frequencyCap = { max: 3, per: "1d" };
  doc.rule.category = "promotions";
  doc.rule.delivery = { frequencyCap: { max: 1, per: "1d" } };
  const { rule, settings } = planOf(doc);
  const expiresAt = new Date(NOON.getTime() + HOUR);

  function check(facts: Partial<RecipientFacts>, now = NOON) {
    return finalCheck(rule, settings, factsOf(facts), expiresAt, now);
  }

  it("when nothing changed since planning, then the message is sent", () => {
    expect(check({})).toBeUndefined();
    expect(
      finalCheck(rule, settings, factsOf(), undefined, new Date(8e15)),
    ).toBeUndefined();
  });

  it("when the user opted out after planning, then the reason is given", () => {
    expect(check({ optedOut: true })).toBe(SuppressionReason.optedOut);
    expect(check({ categoryChoice: false })).toBe(
      SuppressionReason.categoryOptedOut,
    );
    expect(check({ devices: [] })).toBe(SuppressionReason.noDevice);
  });

  it("when a cap was reached while the message waited, then it is stopped", () => {
    expect(check({ recentTotal: 2 })).toBeUndefined();
    expect(check({ recentTotal: 3 })).toBe(SuppressionReason.frequencyCap);
    expect(check({ recentForRule: 1 })).toBe(
      SuppressionReason.ruleFrequencyCap,
    );
  });

  it("when the expiry has passed, then expired; at the expiry it still goes", () => {
    expect(check({}, expiresAt)).toBeUndefined();
    expect(check({}, new Date(expiresAt.getTime() + 1))).toBe(
      SuppressionReason.expired,
    );
  });

  it("when several reasons apply, then the earliest is given", () => {
    expect(
      check(
        { optedOut: true, recentTotal: 3 },
        new Date(expiresAt.getTime() + 1),
      ),
    ).toBe(SuppressionReason.optedOut);
    expect(check({ recentForRule: 1 }, new Date(expiresAt.getTime() + 1))).toBe(
      SuppressionReason.ruleFrequencyCap,
    );
  });
});
