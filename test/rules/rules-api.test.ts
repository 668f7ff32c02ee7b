import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { createRuleStore } from "../../src/rules/rule-store.ts";
import { putRule } from "../../src/rules/rules-document.ts";
import { assignVariant, HOLDOUT } from "../../src/rules/variant.ts";
import { ADMIN_TOKEN, exampleRules, useTestApp } from "../support/test-app.ts";
import { apnsToken, connectAgain, uniqueId } from "../support/test-database.ts";

const ctx = useTestApp({ ruleStore: "database" });

const example = exampleRules as any;
const [wishlistOnSale, cartAbandoned] = example.rules;
const NOON = new Date("2030-01-15T12:00:00.000Z");
const HOUR = 3_600_000;

function admin(method: string, path: string, body?: unknown) {
  return ctx.app.request(method, path, { admin: true, body });
}

async function ingest(...events: Record<string, unknown>[]): Promise<void> {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: events.map((e) => ({ messageId: uniqueId("msg"), ...e })),
  });
  expect(response.body.accepted).toBe(events.length);
}

async function currentVersion(): Promise<string> {
  return (await admin("GET", "/v1/rules")).body.version;
}

/** A new rule, valid against the example rules. */
function newRule(title = "Welcome") {
  return {
    trigger: 'type = "identify"',
    category: "orders",
    message: { title, body: "Hi {{ profile.traits.first_name }}" },
  };
}

describe("admin authentication", () => {
  it("when the admin token is missing, then every rules route answers 401 and changes nothing", async () => {
    const before = await currentVersion();
    const routes: [string, string, unknown?][] = [
      ["GET", "/v1/rules"],
      ["PUT", "/v1/rules", { rules: [] }],
      ["GET", "/v1/rules/wishlist-on-sale"],
      ["PUT", "/v1/rules/sneaky", newRule()],
      ["DELETE", "/v1/rules/cart-abandoned"],
      ["POST", "/v1/rules/validate", example],
      ["POST", "/v1/rules/reload"],
      ["POST", "/v1/rules/cart-abandoned/preview", { event: {} }],
    ];
    for (const [method, path, body] of routes) {
      const response = await ctx.app.request(method, path, { body });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(response.body.error.code).toBe("unauthorized");
    }
    expect(await currentVersion()).toBe(before);
    expect((await admin("GET", "/v1/rules/sneaky")).status).toBe(404);
  });
});

describe("GET /v1/rules", () => {
  it("when the rules come from the rules file, then they are answered as written, with the version in force", async () => {
    const response = await admin("GET", "/v1/rules");
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      version: ctx.app.deps.rules.current().version,
      settings: example.settings,
      collections: example.collections,
      rules: example.rules,
    });
    // As written: the defaults the schema fills in are not added.
    expect(response.body.rules[1]).not.toHaveProperty("enabled");
  });

  it("when one rule is asked for, then it comes with its own version and the rules' version", async () => {
    const response = await admin("GET", "/v1/rules/wishlist-on-sale");
    expect(response).toEqual({
      status: 200,
      body: {
        rule: wishlistOnSale,
        ruleVersion: expect.stringMatching(/^[0-9a-f]{12}$/),
        version: await currentVersion(),
      },
    });
  });

  it("when the rule does not exist, then 404 rule_not_found", async () => {
    const response = await admin("GET", "/v1/rules/no-such-rule");
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("rule_not_found");
    expect(response.body.error.message).toContain("no-such-rule");
  });
});

describe("PUT and DELETE /v1/rules/:id", () => {
  it("when a rule is created, replaced and deleted, then each step changes the version, and deleting returns to the first", async () => {
    const id = uniqueId("rule");
    const original = await currentVersion();

    const created = await admin("PUT", `/v1/rules/${id}`, newRule());
    expect(created).toEqual({
      status: 201,
      body: {
        rule: { id, ...newRule() },
        ruleVersion: expect.any(String),
        version: expect.any(String),
      },
    });
    expect(created.body.version).not.toBe(original);
    const listed = (await admin("GET", "/v1/rules")).body;
    expect(listed.version).toBe(created.body.version);
    expect(listed.rules.map((rule: any) => rule.id)).toEqual([
      "wishlist-on-sale",
      "cart-abandoned",
      "back-in-stock",
      "refresh-wishlist",
      id,
    ]);

    const replaced = await admin("PUT", `/v1/rules/${id}`, {
      id,
      ...newRule("Welcome back"),
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body.rule.message.title).toBe("Welcome back");
    expect(replaced.body.version).not.toBe(created.body.version);
    expect(replaced.body.ruleVersion).not.toBe(created.body.ruleVersion);
    expect((await admin("GET", `/v1/rules/${id}`)).body).toEqual(replaced.body);

    expect(await admin("DELETE", `/v1/rules/${id}`)).toEqual({
      status: 204,
      body: undefined,
    });
    expect((await admin("GET", `/v1/rules/${id}`)).status).toBe(404);
    expect(await currentVersion()).toBe(original);
    expect(ctx.app.deps.rules.current().version).toBe(original);

    const again = await admin("DELETE", `/v1/rules/${id}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("rule_not_found");
  });

  it("when a rule is invalid, then 400 invalid_rules names the rule and every bad field, and nothing changes", async () => {
    const id = uniqueId("rule");
    const before = await currentVersion();
    const response = await admin("PUT", `/v1/rules/${id}`, {
      trigger: "event = ",
      category: "newsletter",
      message: { title: "{{ unclosed" },
      colour: "red",
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_rules");
    const problems: string[] = response.body.error.details.problems;
    for (const field of [
      "trigger",
      "category",
      "message.title",
      "message.body",
    ]) {
      expect(problems).toContainEqual(
        expect.stringContaining(`rules[4] "${id}".${field}`),
      );
    }
    expect(problems.join("\n")).toContain("colour");
    expect(await currentVersion()).toBe(before);
    expect((await admin("GET", `/v1/rules/${id}`)).status).toBe(404);
  });

  it("when the body's id differs from the path, or the body is not a rule, then 400 invalid_body", async () => {
    const id = uniqueId("rule");
    const mismatch = await admin("PUT", `/v1/rules/${id}`, {
      ...newRule(),
      id: "other",
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error.code).toBe("invalid_body");
    expect(mismatch.body.error.message).toContain('"other"');
    const array = await admin("PUT", `/v1/rules/${id}`, [newRule()]);
    expect(array.status).toBe(400);
    expect(array.body.error.code).toBe("invalid_body");
    expect((await admin("GET", `/v1/rules/${id}`)).status).toBe(404);
  });

  it("when several rules are created at once, then every one is kept", async () => {
    const ids = Array.from({ length: 5 }, () => uniqueId("rule"));
    const responses = await Promise.all(
      ids.map((id) => admin("PUT", `/v1/rules/${id}`, newRule())),
    );
    expect(responses.map((r) => r.status)).toEqual(ids.map(() => 201));
    const listed = (await admin("GET", "/v1/rules")).body.rules;
    expect(listed.map((rule: any) => rule.id)).toEqual(
      expect.arrayContaining(ids),
    );
    for (const id of ids) await admin("DELETE", `/v1/rules/${id}`);
  });
});

describe("PUT /v1/rules", () => {
  /** GET /v1/rules with its ETag header. */
  async function rulesWithEtag() {
    const response = await fetch(`${ctx.app.baseUrl}/v1/rules`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const { version, ...document } = (await response.json()) as {
      version: string;
      rules: { id: string }[];
    };
    return { etag: response.headers.get("etag"), version, document };
  }

  function putRules(document: unknown, ifMatch?: string) {
    return ctx.app.request("PUT", "/v1/rules", {
      admin: true,
      body: document,
      ...(ifMatch !== undefined && { headers: { "if-match": ifMatch } }),
    });
  }

  it("when the whole document is replaced with the ETag it was read with, then it is in force at once, under a new version and ETag", async () => {
    const read = await rulesWithEtag();
    expect(read.etag).toBe(`"${read.version}"`);
    const id = uniqueId("rule");
    const edited = {
      ...read.document,
      rules: [...read.document.rules, { id, ...newRule() }],
    };

    const replaced = await putRules(edited, read.etag ?? "");

    expect(replaced.status).toBe(200);
    expect(replaced.body.rules.map((rule: any) => rule.id)).toEqual([
      "wishlist-on-sale",
      "cart-abandoned",
      "back-in-stock",
      "refresh-wishlist",
      id,
    ]);
    expect(replaced.body.version).not.toBe(read.version);
    expect(ctx.app.deps.rules.current().version).toBe(replaced.body.version);
    const after = await rulesWithEtag();
    expect(after.etag).toBe(`"${replaced.body.version}"`);

    // Putting the rules file's document back, without If-Match, returns to its version.
    const restored = await putRules(example);
    expect(restored.status).toBe(200);
    expect(restored.body.version).toBe(read.version);
  });

  it("when If-Match names a version that is no longer in force, then 412 rules_changed names the current one, and nothing changes", async () => {
    const read = await rulesWithEtag();
    const id = uniqueId("rule");
    expect((await admin("PUT", `/v1/rules/${id}`, newRule())).status).toBe(201);
    const current = await currentVersion();

    const stale = await putRules(read.document, read.etag ?? "");

    expect(stale.status).toBe(412);
    expect(stale.body.error).toMatchObject({
      code: "rules_changed",
      details: { version: current },
    });
    expect(stale.body.error.message).toContain("GET /v1/rules again");
    expect(await currentVersion()).toBe(current);
    await admin("DELETE", `/v1/rules/${id}`);
  });

  it("when GET /v1/rules's answer is edited and sent back whole, then its version guards it as If-Match would", async () => {
    const read = (await admin("GET", "/v1/rules")).body;
    const id = uniqueId("rule");
    const edited = { ...read, rules: [...read.rules, { id, ...newRule() }] };

    const stored = await putRules(edited);
    const again = await putRules(edited);

    expect(stored.status).toBe(200);
    expect(stored.body.rules.at(-1).id).toBe(id);
    expect(again.status).toBe(412);
    expect(again.body.error.details.version).toBe(stored.body.version);
    expect((await putRules(example)).status).toBe(200);
  });

  it("when If-Match lists several versions, then one in force lets the document through; a weak tag never does", async () => {
    const read = await rulesWithEtag();

    const weak = await putRules(example, `W/${read.etag ?? ""}`);
    const listed = await putRules(example, `"0ld", ${read.etag ?? ""}`);

    expect(weak.status).toBe(412);
    expect(listed.status).toBe(200);
  });

  it("when the document is invalid or not a document, then 400 names what to fix, and nothing changes", async () => {
    const before = await currentVersion();

    const invalid = await putRules({
      rules: [{ id: "broken", trigger: "event = ", message: {} }],
    });
    const notADocument = await putRules([example]);

    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe("invalid_rules");
    expect(invalid.body.error.details.problems.join("\n")).toContain("broken");
    expect(notADocument.status).toBe(400);
    expect(notADocument.body.error.code).toBe("invalid_body");
    expect(await currentVersion()).toBe(before);
  });
});

describe("POST /v1/rules/validate", () => {
  it("when a whole valid document is sent, then valid with the version it would have, and nothing changes", async () => {
    const before = await currentVersion();
    const response = await admin("POST", "/v1/rules/validate", example);
    expect(response).toEqual({
      status: 200,
      body: { valid: true, version: before },
    });
    const changed = structuredClone(example);
    changed.rules.pop();
    const other = await admin("POST", "/v1/rules/validate", changed);
    expect(other.body.valid).toBe(true);
    expect(other.body.version).not.toBe(before);
    expect(await currentVersion()).toBe(before);
  });

  it("when an invalid document is sent, then 200 valid: false with every problem naming the rule and field", async () => {
    const invalid = structuredClone(example);
    invalid.rules[1].trigger = "event = ";
    invalid.rules[0].audience.collection = "favourites";
    const response = await admin("POST", "/v1/rules/validate", invalid);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      valid: false,
      problems: expect.arrayContaining([
        expect.stringContaining('rules[1] "cart-abandoned".trigger'),
        expect.stringContaining(
          'rules[0] "wishlist-on-sale".audience.collection',
        ),
      ]),
    });
  });

  it("when one rule is sent, then it is checked within the rules in force, and nothing is stored", async () => {
    const id = uniqueId("rule");
    const before = await currentVersion();
    const valid = await admin("POST", "/v1/rules/validate", {
      rule: { id, ...newRule() },
    });
    expect(valid.body).toEqual({
      valid: true,
      version: expect.any(String),
      ruleVersion: expect.any(String),
    });
    expect(valid.body.version).not.toBe(before);

    // The category must be declared in the rules in force.
    const invalid = await admin("POST", "/v1/rules/validate", {
      rule: { ...newRule(), id, category: "newsletter" },
    });
    expect(invalid.body).toEqual({
      valid: false,
      problems: [expect.stringContaining(`rules[4] "${id}".category`)],
    });
    const notObject = await admin("POST", "/v1/rules/validate", {
      rule: "x",
    });
    expect(notObject.body.valid).toBe(false);
    expect(await currentVersion()).toBe(before);
    expect((await admin("GET", `/v1/rules/${id}`)).status).toBe(404);
  });
});

describe("POST /v1/rules/reload", () => {
  it("when another process stored a version, then reload puts it in force and answers it", async () => {
    const previous = ctx.app.deps.rules.current().version;
    const connection = await connectAgain(ctx.database);
    const id = uniqueId("rule");
    try {
      const other = await createRuleStore({
        db: connection.db,
        logger: createLogger("silent"),
        file: undefined,
      });
      const { book } = await other.update((document) => ({
        document: putRule(document, { id, ...newRule() }).document,
        result: undefined,
      }));
      const response = await admin("POST", "/v1/rules/reload");
      expect(response).toEqual({
        status: 200,
        body: { version: book.version, previousVersion: previous },
      });
      expect(ctx.app.deps.rules.current().version).toBe(book.version);
    } finally {
      await connection.close();
      await admin("DELETE", `/v1/rules/${id}`);
    }
  });
});

const PREVIEW_ID = "00000000-0000-5000-8000-000000000000";

/** A preview's APNs payload: headers, body, and the body's size. */
function apnsPreview(
  aps: Record<string, unknown>,
  fields: Record<string, string>,
  expiresAt?: Date,
) {
  const body = { ...fields, nudge_id: PREVIEW_ID, aps };
  return {
    platform: "apns",
    bytes: Buffer.byteLength(JSON.stringify(body)),
    limit: 4096,
    headers: {
      "apns-push-type": "alert",
      "apns-priority": "10",
      "apns-collapse-id": PREVIEW_ID,
      ...(expiresAt !== undefined && {
        "apns-expiration": String(expiresAt.getTime() / 1000),
      }),
    },
    body,
  };
}

describe("POST /v1/rules/:id/preview", () => {
  beforeAll(() => {
    // Noon UTC: outside the example's quiet hours (21:00-08:00).
    ctx.app.setNow(NOON);
  });
  afterAll(() => {
    ctx.app.setNow(new Date());
  });

  /** A user id that the example's 5% holdout does not hold out. */
  function saverId(): string {
    for (;;) {
      const id = uniqueId("user");
      const { id: ruleId, variants, holdout } = wishlistOnSale;
      if (assignVariant(ruleId, id, variants, holdout) !== HOLDOUT) return id;
    }
  }

  function variantOf(userId: string) {
    const { id, variants, holdout } = wishlistOnSale;
    return assignVariant(id, userId, variants, holdout);
  }

  function productUpdated(productId: string, onSale = true) {
    return {
      type: "track",
      event: "Product Updated",
      userId: uniqueId("merchant"),
      properties: {
        product_id: productId,
        on_sale: onSale,
        name: "Lamp",
        price: 19.99,
      },
    };
  }

  /** Three users saved the product: one with a device, one without, one opted out of promotions. */
  async function savers(productId: string) {
    const [reachable, noDevice, optedOut] = [saverId(), saverId(), saverId()];
    const saved = (userId: string, device: boolean) => ({
      type: "track",
      event: "Product Added to Wishlist",
      userId,
      properties: { product_id: productId, name: "Lamp" },
      ...(device
        ? { context: { device: { type: "ios", token: apnsToken() } } }
        : {}),
    });
    await ingest(
      { type: "identify", userId: reachable, traits: { first_name: "Ada" } },
      saved(reachable, true),
      saved(noDevice, false),
      saved(optedOut, true),
    );
    const opt = await admin("PUT", `/v1/users/${optedOut}/preferences`, {
      categories: { promotions: "out" },
    });
    expect(opt.status).toBe(200);
    return { reachable, noDevice, optedOut };
  }

  it("when a product on the wishlist goes on sale, then each saver's outcome is shown: sent, no device, opted out", async () => {
    const productId = uniqueId("product");
    const { reachable, noDevice, optedOut } = await savers(productId);

    const response = await admin("POST", "/v1/rules/wishlist-on-sale/preview", {
      event: productUpdated(productId),
    });
    expect(response.status).toBe(200);
    const variant = variantOf(reachable);
    const expected = [
      {
        userId: reachable,
        status: "pending",
        variant,
        sendAt: NOON.toISOString(),
        deferredBy: [],
        expiresAt: new Date(NOON.getTime() + 12 * HOUR).toISOString(),
        content: {
          title: variant === "b" ? "Price drop: Lamp" : "Lamp is on sale",
          body: "Hi Ada, now 19.99",
          deepLink: `shop://product/${productId}`,
          data: {},
        },
        // What APNs would get, exactly, and its size against Apple's limit.
        payloads: [
          apnsPreview(
            {
              alert: {
                title: variant === "b" ? "Price drop: Lamp" : "Lamp is on sale",
                body: "Hi Ada, now 19.99",
              },
              "thread-id": "wishlist-on-sale",
            },
            { deep_link: `shop://product/${productId}` },
            new Date(NOON.getTime() + 12 * HOUR),
          ),
        ],
      },
      {
        userId: noDevice,
        status: "suppressed",
        reason: "no_device",
        variant: variantOf(noDevice),
      },
      {
        userId: optedOut,
        status: "suppressed",
        reason: "category_opted_out",
        variant: variantOf(optedOut),
      },
    ].sort((a, b) => a.userId.localeCompare(b.userId));
    expect(response.body).toEqual({
      ruleId: "wishlist-on-sale",
      ruleVersion: ctx.app.deps.rules
        .current()
        .rules.find((rule) => rule.id === "wishlist-on-sale")?.version,
      enabled: true,
      triggered: true,
      audience: {
        kind: "collection",
        collection: "wishlist",
        key: "properties.product_id",
        itemKey: productId,
      },
      recipients: expected,
      truncated: false,
    });
  });

  it("when the audience is larger than the limit, then the first members are shown and the answer says it is truncated", async () => {
    const productId = uniqueId("product");
    const users = Object.values(await savers(productId)).sort();
    const response = await admin("POST", "/v1/rules/wishlist-on-sale/preview", {
      event: productUpdated(productId),
      limit: 2,
    });
    expect(response.body.truncated).toBe(true);
    expect(response.body.recipients.map((r: any) => r.userId)).toEqual(
      users.slice(0, 2),
    );
  });

  it("when an item was added to a cart, then the message is due an hour later, deferred by the delay, for the profile the anonymous id belongs to", async () => {
    const [userId, anonymousId] = [uniqueId("user"), uniqueId("anon")];
    await ingest({
      type: "identify",
      userId,
      anonymousId,
      context: { device: { type: "ios", token: apnsToken() } },
    });
    const event = {
      type: "track",
      event: "Product Added",
      anonymousId,
      properties: { name: "Mug" },
    };
    const response = await admin("POST", "/v1/rules/cart-abandoned/preview", {
      event,
    });
    expect(response.body).toMatchObject({
      ruleId: "cart-abandoned",
      triggered: true,
      audience: { kind: "user", userId },
      truncated: false,
    });
    expect(response.body.recipients).toEqual([
      {
        userId,
        status: "pending",
        sendAt: new Date(NOON.getTime() + HOUR).toISOString(),
        deferredBy: ["delay"],
        content: {
          title: cartAbandoned.message.title,
          body: "Mug is waiting in your cart",
          deepLink: "shop://cart",
          data: {},
        },
        payloads: [
          apnsPreview(
            {
              alert: {
                title: cartAbandoned.message.title,
                body: "Mug is waiting in your cart",
              },
              "thread-id": "cart-abandoned",
            },
            { deep_link: "shop://cart" },
          ),
        ],
      },
    ]);

    // At 20:30 the delay ends in quiet hours: the message waits for 08:00.
    ctx.app.setNow(new Date("2030-01-15T20:30:00.000Z"));
    try {
      const evening = await admin("POST", "/v1/rules/cart-abandoned/preview", {
        event,
      });
      expect(evening.body.recipients[0]).toMatchObject({
        sendAt: "2030-01-16T08:00:00.000Z",
        deferredBy: ["delay", "quiet_hours"],
      });
    } finally {
      ctx.app.setNow(NOON);
    }
  });

  it("when the event does not match the trigger, then triggered is false with the reason, and no recipients", async () => {
    const productId = uniqueId("product");
    await savers(productId);
    const response = await admin("POST", "/v1/rules/wishlist-on-sale/preview", {
      event: productUpdated(productId, false),
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      ruleId: "wishlist-on-sale",
      triggered: false,
      recipients: [],
      truncated: false,
    });
    expect(response.body.explanation).toContain(wishlistOnSale.trigger);
  });

  it("when a preview runs, then nothing is written: no event, no match, no notification", async () => {
    const productId = uniqueId("product");
    await savers(productId);
    const counts = () =>
      Promise.all(
        (["events", "rule_matches", "notifications"] as const).map(
          async (table) =>
            (
              await ctx.database.db
                .selectFrom(table)
                .select((eb) => eb.fn.countAll<number>().as("n"))
                .executeTakeFirstOrThrow()
            ).n,
        ),
      );
    const before = await counts();
    const response = await admin("POST", "/v1/rules/wishlist-on-sale/preview", {
      event: productUpdated(productId),
    });
    expect(response.body.recipients).toHaveLength(3);
    expect(await counts()).toEqual(before);
  });

  it("when the event, the limit or the rule is wrong, then 400 invalid_body naming the field, or 404 rule_not_found", async () => {
    const noUser = await admin("POST", "/v1/rules/cart-abandoned/preview", {
      event: { type: "track", event: "Product Added" },
    });
    expect(noUser.status).toBe(400);
    expect(noUser.body.error.code).toBe("invalid_body");
    expect(
      noUser.body.error.details.problems.map((p: any) => p.path),
    ).toContain("event.userId");

    for (const limit of [0, 1001, 2.5]) {
      const response = await admin("POST", "/v1/rules/cart-abandoned/preview", {
        event: { type: "track", event: "Product Added", userId: "u" },
        limit,
      });
      expect(response.status, String(limit)).toBe(400);
      expect(
        response.body.error.details.problems.map((p: any) => p.path),
      ).toEqual(["limit"]);
    }

    const missing = await admin("POST", "/v1/rules/no-such-rule/preview", {
      event: { type: "track", event: "Product Added", userId: "u" },
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("rule_not_found");
  });
});
