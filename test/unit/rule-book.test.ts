import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { matchesCondition } from "../../src/rules/condition.ts";
import {
  compileRuleBook,
  emptyRuleBook,
  loadRuleBook,
  RulesFileError,
} from "../../src/rules/rule-book.ts";

const EXAMPLE_TEXT = readFileSync("examples/rules.json", "utf8");

/** A fresh, mutable copy of examples/rules.json. */
function example(): any {
  return JSON.parse(EXAMPLE_TEXT);
}

function problemsOf(document: unknown): readonly string[] {
  try {
    compileRuleBook(document, "rules.json");
  } catch (error) {
    if (error instanceof RulesFileError) return error.problems;
    throw error;
  }
  throw new Error("expected the rules document to be rejected");
}

const SYNTAX =
  'is not valid Segment trigger syntax (e.g. type = "track" and event = "Order Completed" and properties.total > 100)';

describe("compileRuleBook: the example rules file", () => {
  const book = compileRuleBook(example(), "examples/rules.json");

  it("when examples/rules.json is compiled, then its rules and collections are there", () => {
    expect(book.rules.map((rule) => rule.id)).toEqual([
      "wishlist-on-sale",
      "cart-abandoned",
      "back-in-stock",
      "refresh-wishlist",
    ]);
    expect(book.collections.map((collection) => collection.name)).toEqual([
      "wishlist",
    ]);
    expect(book.settings.optOutTrait).toBe("push_opt_out");
    expect(book.settings.categories.promotions).toEqual({
      default: "in",
      trait: "promotions_opt_in",
    });
  });

  it("when a rule leaves fields out, then the schema's defaults are filled in", () => {
    const cart = book.rules.find((rule) => rule.id === "cart-abandoned");
    expect(cart?.enabled).toBe(true);
    expect(cart?.holdout).toBe(0);
    expect(cart?.delivery.quietHours).toBe(true);
    expect(book.settings.defaultLocale).toBe("en");
  });

  it("when the example compiles, then its triggers match the events they name and no others", () => {
    const [onSale] = book.rules;
    if (onSale === undefined || onSale.trigger === "manual")
      throw new Error("no rule triggered by events");
    const event = {
      type: "track",
      event: "Product Updated",
      properties: { on_sale: true },
    };
    expect(matchesCondition(onSale.trigger, event)).toBe(true);
    expect(
      matchesCondition(onSale.trigger, {
        ...event,
        properties: { on_sale: false },
      }),
    ).toBe(false);
  });

  it("when the example compiles, then its collection's add and remove conditions are compiled", () => {
    const [wishlist] = book.collections;
    if (wishlist?.remove === undefined) throw new Error("no remove condition");
    expect(
      matchesCondition(wishlist.add, {
        type: "track",
        event: "Product Added to Wishlist",
      }),
    ).toBe(true);
    expect(
      matchesCondition(wishlist.remove, {
        type: "track",
        event: "Product Removed from Wishlist",
      }),
    ).toBe(true);
  });

  it("when compiled, then the rule book has a short hex version and is frozen", () => {
    expect(book.version).toMatch(/^[0-9a-f]{12}$/);
    expect(Object.isFrozen(book)).toBe(true);
  });

  it("when no rules file is given, then the empty rule book has defaults only", () => {
    const empty = emptyRuleBook();
    expect(empty.rules).toEqual([]);
    expect(empty.collections).toEqual([]);
    expect(empty.settings.defaultTimezone).toBe("UTC");
  });
});

describe("compileRuleBook: invalid documents", () => {
  it("when shape, syntax and references are all wrong, then one error lists every problem", () => {
    const document = example();
    document.settings.quietHours.start = "25:00";
    document.rules[0].message.title = "{{ event.name ";
    document.rules[0].audience.collection = "saved";
    document.rules[1].trigger = "event = ";
    const problems = problemsOf(document);
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^settings\.quietHours\.start: /),
        expect.stringMatching(
          /^rules\[0\] "wishlist-on-sale"\.message\.title: is not a valid Liquid template/,
        ),
        expect.stringMatching(
          /^rules\[0\] "wishlist-on-sale"\.audience\.collection: "saved" is not declared/,
        ),
        expect.stringMatching(
          /^rules\[1\] "cart-abandoned"\.trigger: is not valid Segment trigger syntax/,
        ),
      ]),
    );
  });

  it("when shapes are wrong in several places, then every problem is reported at once with its rule and field", () => {
    const document = example();
    document.rules[0].delivery.dedupe = "5 minutes";
    document.settings.quietHours.start = "25:00";
    document.settings.defaultTimezone = "Mars/Olympus_Mons";
    document.rules[1].colour = "red";
    document.extra = true;
    const problems = problemsOf(document);
    expect(problems).toEqual(
      expect.arrayContaining([
        'settings.defaultTimezone: must be an IANA timezone such as "Europe/Berlin"',
        'settings.quietHours.start: must be a 24-hour time "HH:MM"',
        'rules[0] "wishlist-on-sale".delivery.dedupe: must be a duration such as "90s", "30m", "12h", "1d" or "2w"',
        'rules[1] "cart-abandoned": Unrecognized key: "colour"',
        '(file): Unrecognized key: "extra"',
      ]),
    );
    expect(problems).toHaveLength(5);
  });

  it("when a duration is longer than a year, then it is refused, wherever it stands", () => {
    const document = example();
    document.rules[0].delivery.dedupe = "999999999999999999999w";
    document.rules[1].delivery.delay = "367d";
    document.rules[0].conversion.within = "1000000w";
    document.settings.frequencyCap.per = "53w";
    const longest = example();
    longest.rules[1].delivery.delay = "366d";

    expect(problemsOf(document)).toEqual([
      'settings.frequencyCap.per: must be a year or less ("366d", "52w")',
      'rules[0] "wishlist-on-sale".delivery.dedupe: must be a year or less ("366d", "52w")',
      'rules[0] "wishlist-on-sale".conversion.within: must be a year or less ("366d", "52w")',
      'rules[1] "cart-abandoned".delivery.delay: must be a year or less ("366d", "52w")',
    ]);
    expect(compileRuleBook(longest, "rules.json").rules).toHaveLength(
      longest.rules.length,
    );
  });

  it("when references and trigger syntax are wrong in several places, then every problem is reported at once with its rule and field", () => {
    const document = example();
    document.rules[0].trigger = "event = ";
    document.rules[0].audience.collection = "saved";
    document.rules[1].trigger = "foo";
    document.rules[1].category = "marketing";
    const problems = problemsOf(document);
    expect(problems).toEqual(
      expect.arrayContaining([
        `rules[0] "wishlist-on-sale".trigger: ${SYNTAX}`,
        'rules[0] "wishlist-on-sale".audience.collection: "saved" is not declared in collections (declared: wishlist)',
        `rules[1] "cart-abandoned".trigger: ${SYNTAX}`,
        'rules[1] "cart-abandoned".category: "marketing" is not declared in settings.categories (declared: promotions, orders)',
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it.each([
    ["a second value", 'event = "A" "B"'],
    ["a dangling and", 'event = "A" and'],
    ["an operator for a value", "event = = "],
    ["an unclosed group", '(event = "A" or event = "B"'],
    ["a function without its value", "contains(properties.tags)"],
  ])(
    "when a trigger has %s, which Segment's parser would drop, then it is refused",
    (_, trigger) => {
      const document = example();
      document.rules[1].trigger = trigger;
      expect(problemsOf(document)).toEqual([
        `rules[1] "cart-abandoned".trigger: ${SYNTAX}`,
      ]);
    },
  );

  it("when a trigger uses groups, negation, functions and nulls, then it is accepted", () => {
    const document = example();
    document.rules[1].trigger =
      '!(event = "A" or properties.sku != null) and contains(properties.tags, "x") and !match(context.page.path, "/cart*") and properties.total >= 10.5 and traits.vip = true';
    expect(compileRuleBook(document, "rules.json").rules).toHaveLength(
      document.rules.length,
    );
  });

  it("when cancelIf, audience.where or a collection condition is not valid syntax, then each is named", () => {
    const document = example();
    document.rules[1].delivery.cancelIf = "event =";
    document.rules[0].audience = { where: "traits.vip = " };
    document.collections[0].remove = "nonsense";
    expect(problemsOf(document)).toEqual(
      expect.arrayContaining([
        `rules[1] "cart-abandoned".delivery.cancelIf: ${SYNTAX}`,
        `rules[0] "wishlist-on-sale".audience.where: ${SYNTAX}`,
        `collections[0] "wishlist".remove: ${SYNTAX}`,
      ]),
    );
  });

  it("when a rule has autoWinner without its defaults, then they are filled in from the rule", () => {
    const document = example();
    document.rules[0].autoWinner = {};
    const book = compileRuleBook(document, "rules.json");
    // The example's conversion is within 24h of the open: a day more for the open.
    expect(book.rules[0]?.autoWinner).toEqual({
      metric: "conversion",
      minSent: 1000,
      confidence: 0.95,
      windowMs: 48 * 3_600_000,
    });
    delete document.rules[0].conversion;
    document.rules[0].autoWinner = { minSent: 200, window: "6h" };
    expect(
      compileRuleBook(document, "rules.json").rules[0]?.autoWinner,
    ).toEqual({
      metric: "open",
      minSent: 200,
      confidence: 0.95,
      windowMs: 6 * 3_600_000,
    });
  });

  it("when autoWinner is out of bounds or lacks what it needs, then every problem is named", () => {
    const document = example();
    document.rules[0].autoWinner = { confidence: 0.5, minSent: 99 };
    document.rules[1].autoWinner = { metric: "conversion", confidence: 1 };
    const problems = problemsOf(document);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^rules\[0\] "wishlist-on-sale"\.autoWinner\.confidence: /,
        ),
        expect.stringMatching(
          /^rules\[0\] "wishlist-on-sale"\.autoWinner\.minSent: /,
        ),
        expect.stringMatching(
          /^rules\[1\] "cart-abandoned"\.autoWinner\.confidence: /,
        ),
        'rules[1] "cart-abandoned".autoWinner: needs two variants or more to choose from (the rule has 0)',
        expect.stringMatching(
          /^rules\[1\] "cart-abandoned"\.autoWinner\.metric: "conversion" needs the rule's conversion/,
        ),
      ]),
    );
  });

  it("when two rules share an id, then the duplicate id is reported", () => {
    const document = example();
    document.rules.push(example().rules[1]);
    expect(problemsOf(document)).toEqual([
      'rules: id "cart-abandoned" is used more than once',
    ]);
  });

  it("when two collections share a name, then the duplicate name is reported", () => {
    const document = example();
    document.collections.push(example().collections[0]);
    expect(problemsOf(document)).toEqual([
      'collections: name "wishlist" is used more than once',
    ]);
  });

  it("when no categories are declared, then an unknown category says none are declared", () => {
    const document = example();
    document.settings.categories = {};
    document.rules = [document.rules[1]];
    expect(problemsOf(document)).toEqual([
      'rules[0] "cart-abandoned".category: "orders" is not declared in settings.categories (declared: none)',
    ]);
  });

  it("when a required field is missing, then it is named with the rule id", () => {
    const document = example();
    delete document.rules[1].message.title;
    expect(problemsOf(document)).toEqual([
      expect.stringMatching(/^rules\[1\] "cart-abandoned"\.message\.title: /),
    ]);
  });

  it("when the document is not an object, then the file as a whole is reported", () => {
    expect(problemsOf([])).toEqual([expect.stringMatching(/^\(file\): /)]);
  });

  it("when a document is rejected, then the error has a stable code and names the source", () => {
    const document = example();
    document.rules[0].trigger = "foo";
    let caught: unknown;
    try {
      compileRuleBook(document, "custom-rules.json");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RulesFileError);
    const error = caught as RulesFileError;
    expect(error.code).toBe("invalid_rules");
    expect(error.message).toBe(
      `custom-rules.json is not a valid rules file:\n  rules[0] "wishlist-on-sale".trigger: ${SYNTAX}`,
    );
  });
});

describe("loadRuleBook", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "nudge-rules-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("when the file exists and is valid, then it is compiled", async () => {
    const file = join(dir, "valid.json");
    await writeFile(file, EXAMPLE_TEXT);
    const book = await loadRuleBook(file);
    expect(book.rules).toHaveLength(example().rules.length);
  });

  it("when the file is missing, then a RulesFileError says it cannot be read", async () => {
    const file = join(dir, "missing.json");
    const error = await loadRuleBook(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RulesFileError);
    expect((error as RulesFileError).problems).toEqual([
      expect.stringMatching(/^cannot be read: ENOENT/),
    ]);
    expect((error as RulesFileError).message).toContain(
      `${file} is not a valid rules file:\n  cannot be read:`,
    );
  });

  it("when the file is not valid JSON, then a RulesFileError says so", async () => {
    const file = join(dir, "broken.json");
    await writeFile(file, '{ "rules": [ }');
    const error = await loadRuleBook(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RulesFileError);
    expect((error as RulesFileError).problems).toEqual([
      expect.stringMatching(/^is not valid JSON: /),
    ]);
    expect((error as RulesFileError).message).toContain(file);
  });

  it("when the file is valid JSON but not a valid rules file, then the problems are reported", async () => {
    const file = join(dir, "invalid.json");
    await writeFile(file, JSON.stringify({ rules: [{ id: "x" }] }));
    const error = await loadRuleBook(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RulesFileError);
    expect((error as RulesFileError).problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^rules\[0\] "x"\.trigger: /),
        expect.stringMatching(/^rules\[0\] "x"\.message: /),
      ]),
    );
  });
});

describe("compileRuleBook: version", () => {
  it("when the same content is compiled twice, then the version is the same", () => {
    expect(compileRuleBook(example(), "a").version).toBe(
      compileRuleBook(example(), "b").version,
    );
  });

  it("when only the formatting of the file changes, then the version is the same", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nudge-rules-"));
    try {
      const compact = join(dir, "compact.json");
      await writeFile(compact, JSON.stringify(example()));
      expect((await loadRuleBook(compact)).version).toBe(
        compileRuleBook(example(), "x").version,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("when the content changes, then the version changes", () => {
    const changed = example();
    changed.rules[1].message.title = "Still thinking about it??";
    expect(compileRuleBook(changed, "x").version).not.toBe(
      compileRuleBook(example(), "x").version,
    );
  });

  it("when a setting changes, then the version changes", () => {
    const changed = example();
    changed.settings.frequencyCap.max = 4;
    expect(compileRuleBook(changed, "x").version).not.toBe(
      compileRuleBook(example(), "x").version,
    );
  });
});
