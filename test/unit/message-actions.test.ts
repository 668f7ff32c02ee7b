import { describe, expect, it } from "vitest";
import { compileRuleBook } from "../../src/rules/rule-book.ts";

const SCOPE = {
  event: { properties: { product_id: "42", name: "Boots" } },
  profile: { traits: {}, locale: "de" },
};

function ruleWith(message: Record<string, unknown>) {
  const book = compileRuleBook(
    { rules: [{ id: "sale", trigger: 'event = "Sale"', message }] },
    "test rules",
  );
  const rule = book.rules[0];
  if (rule === undefined) throw new Error("no rule");
  return rule;
}

const BUY = {
  id: "buy",
  title: "Buy {{ event.properties.name }}",
  deepLink: "shop://buy/{{ event.properties.product_id }}",
  foreground: true,
};

describe("message actions", () => {
  it("when actions have Liquid titles and deep links, then they are rendered with the message", () => {
    const rule = ruleWith({
      title: "Sale",
      body: "Now",
      actions: [BUY, { id: "later", title: "Later", destructive: true }],
    });

    expect(rule.compiledMessage.render(undefined, [], SCOPE).actions).toEqual([
      {
        id: "buy",
        title: "Buy Boots",
        deepLink: "shop://buy/42",
        foreground: true,
      },
      { id: "later", title: "Later", destructive: true },
    ]);
  });

  it("when a locale gives actions, then they replace the message's whole list, and a title that renders empty drops its button", () => {
    const rule = ruleWith({
      title: "Sale",
      body: "Now",
      actions: [BUY],
      locales: {
        de: {
          actions: [
            { id: "buy", title: "Kaufen" },
            { id: "gone", title: "{{ event.properties.missing }}" },
          ],
        },
      },
    });

    expect(
      rule.compiledMessage.render(undefined, ["de"], SCOPE).actions,
    ).toEqual([{ id: "buy", title: "Kaufen" }]);
  });

  it("when a message has more than three actions, then the rules are refused", () => {
    const four = ["a", "b", "c", "d"].map((id) => ({ id, title: id }));
    expect(() => ruleWith({ title: "t", body: "b", actions: four })).toThrow(
      /actions/,
    );
  });

  it("when two actions share an id or an id holds Liquid, then the rules are refused", () => {
    const twice = [
      { id: "buy", title: "a" },
      { id: "buy", title: "b" },
    ];
    expect(() => ruleWith({ title: "t", body: "b", actions: twice })).toThrow(
      /action id "buy" is used twice/,
    );
    expect(() =>
      ruleWith({
        title: "t",
        body: "b",
        actions: [{ id: "{{ x }}", title: "a" }],
      }),
    ).toThrow(/actions\[0\] "{{ x }}"\.id: must be/);
  });

  it("when a silent message has actions, then the rules are refused", () => {
    expect(() =>
      ruleWith({ silent: true, actions: [{ id: "a", title: "a" }] }),
    ).toThrow(/shows nothing to tap/);
  });
});
