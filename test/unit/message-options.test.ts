import { describe, expect, it } from "vitest";
import { pushMessageOf } from "../../src/providers/push-content.ts";
import { compileRuleBook } from "../../src/rules/rule-book.ts";

const SCOPE = {
  event: { properties: { name: "Boots", list: "w1" } },
  profile: { traits: {}, locale: "de" },
};
const IDENTITY = { notificationId: "n1", ruleId: "sale", expiresAt: undefined };

function ruleWith(message: Record<string, unknown>) {
  const book = compileRuleBook(
    { rules: [{ id: "sale", trigger: 'event = "Sale"', message }] },
    "test rules",
  );
  const rule = book.rules[0];
  if (rule === undefined) throw new Error("no rule");
  return rule;
}

describe("per-platform options and overrides", () => {
  it("when options and overrides hold Liquid, then they are rendered with the message, and a locale's override merges over the message's", () => {
    const rule = ruleWith({
      title: "Sale",
      body: "{{ event.properties.name }}",
      apns: {
        threadId: "list-{{ event.properties.list }}",
        subtitle: "{{ event.properties.missing }}",
        relevanceScore: 0.4,
      },
      overrides: { apns: { title: "Sale!", interruptionLevel: "passive" } },
      locales: { de: { overrides: { apns: { title: "Angebot!" } } } },
    });

    const content = rule.compiledMessage.render(undefined, ["de"], SCOPE);

    expect(content).toMatchObject({
      // The empty subtitle is left out.
      apns: { threadId: "list-w1", relevanceScore: 0.4 },
      overrides: { apns: { title: "Angebot!", interruptionLevel: "passive" } },
    });
    expect(pushMessageOf(content, IDENTITY, "apns")).toMatchObject({
      title: "Angebot!",
      body: "Boots",
      apns: {
        threadId: "list-w1",
        relevanceScore: 0.4,
        interruptionLevel: "passive",
      },
    });
    expect(pushMessageOf(content, IDENTITY, "fcm")).toMatchObject({
      title: "Sale",
      apns: { threadId: "list-w1", relevanceScore: 0.4 },
    });
  });

  it("when an option's value is outside what the platform takes, then the rules are refused", () => {
    const refused = [
      { apns: { relevanceScore: 1.5 } },
      { apns: { interruptionLevel: "critical" } },
      { fcm: { color: "orange" } },
      { fcm: { priority: "max" } },
      { webpush: { urgency: "urgent" } },
      { overrides: { webpush: { subtitle: "only APNs has one" } } },
    ];
    for (const options of refused)
      expect(() => ruleWith({ title: "t", body: "b", ...options })).toThrow(
        /not a valid rules file/,
      );
  });
});
