import { readFileSync } from "node:fs";
import { Analytics } from "@segment/analytics-node";
import { describe, expect, it } from "vitest";
import { startTestApp, useTestApp } from "../support/test-app.ts";
import { uniqueId } from "../support/test-database.ts";

const WRITE_KEY = "write-key-one";
const OTHER_WRITE_KEY = "write-key-two";

const ctx = useTestApp({
  // Spaces around the comma, as an operator might write them in .env.
  env: { SEGMENT_WRITE_KEYS: `${WRITE_KEY} , ${OTHER_WRITE_KEY}` },
});

function basicAuth(writeKey: string): Record<string, string> {
  return {
    authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
  };
}

function identify(userId: string, traits: Record<string, unknown> = {}) {
  return { type: "identify", messageId: uniqueId("msg"), userId, traits };
}

async function getUser(userId: string) {
  return ctx.app.request("GET", `/v1/users/${encodeURIComponent(userId)}`, {
    admin: true,
  });
}

/** Segment's own tracking-API example, with fresh user ids so this file's tests stay apart. */
function exampleBatch(ids: Record<string, string>): Record<string, unknown> {
  const text = readFileSync(
    new URL(
      "../fixtures/segment-examples/08-tracking-api-v1-batch.json",
      import.meta.url,
    ),
    "utf8",
  );
  return JSON.parse(
    Object.entries(ids).reduce(
      (json, [from, to]) => json.replaceAll(from, to),
      text,
    ),
  ) as Record<string, unknown>;
}

/** Resolves when the client reports the call delivered, rejects with its delivery error. */
function delivered(
  send: (callback: (err?: unknown) => void) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    send((err) => {
      if (err === undefined) resolve();
      else
        reject(
          err instanceof Error
            ? err
            : new Error("delivery failed", { cause: err }),
        );
    });
  });
}

describe("@segment/analytics-node pointed at Nudge", () => {
  it("when the real client sends identify, track, page, screen, group and alias, then each arrives unchanged", async () => {
    const anonymousId = uniqueId("anon");
    const userId = uniqueId("user");
    const groupId = uniqueId("group");
    const fcmToken = uniqueId("fcm-token");
    const apnsToken = "ab".repeat(32);
    const productId = uniqueId("product");
    const requests: { url: string; authorization: string | undefined }[] = [];
    const statuses: number[] = [];
    const errors: unknown[] = [];

    const analytics = new Analytics({
      writeKey: WRITE_KEY,
      host: ctx.app.baseUrl,
      flushAt: 1,
      maxRetries: 0,
    });
    analytics.on("http_request", (request) => {
      requests.push({
        url: request.url,
        authorization: request.headers.Authorization,
      });
    });
    analytics.on("http_response", (response) => {
      statuses.push(response.status);
    });
    analytics.on("error", (error) => {
      errors.push(error);
    });

    // Each call waits for its delivery, so the server sees them in this order.
    await delivered((done) => {
      analytics.identify(
        { anonymousId, traits: { first_seen_on: "web", plan: "free" } },
        done,
      );
    });
    await delivered((done) => {
      analytics.screen(
        {
          anonymousId,
          name: "Product Detail",
          properties: { product_id: productId },
          context: { device: { type: "android", token: fcmToken } },
        },
        done,
      );
    });
    const wished = {
      product_id: productId,
      name: "Monopoly: 3rd Edition",
      price: 18.99,
      tags: ["games", "family"],
    };
    await delivered((done) => {
      analytics.track(
        { anonymousId, event: "Product Added to Wishlist", properties: wished },
        done,
      );
    });
    await delivered((done) => {
      analytics.alias({ userId, previousId: anonymousId }, done);
    });
    await delivered((done) => {
      analytics.identify(
        {
          userId,
          traits: { name: "Peter Gibbons", plan: "premium", logins: 5 },
          context: { timezone: "Europe/Berlin", locale: "de-DE" },
        },
        done,
      );
    });
    const groupTraits = { name: "Initech", employees: 329 };
    await delivered((done) => {
      analytics.group({ userId, groupId, traits: groupTraits }, done);
    });
    await delivered((done) => {
      analytics.page(
        {
          userId,
          category: "Docs",
          name: "Pricing",
          properties: { url: "https://example.com/pricing" },
          context: { device: { type: "ios", token: apnsToken } },
        },
        done,
      );
    });
    await analytics.closeAndFlush({ timeout: 10_000 });

    expect(errors).toEqual([]);
    // One request per call (flushAt: 1), each as Segment's libraries send it.
    expect(requests).toEqual(
      Array(7).fill({
        url: `${ctx.app.baseUrl}/v1/batch`,
        authorization: basicAuth(WRITE_KEY).authorization,
      }),
    );
    expect(statuses).toEqual(Array(7).fill(200));

    const user = await getUser(userId);
    expect(user.status).toBe(200);
    // identify (both before and after the alias) and the alias that merged them.
    expect(user.body.traits).toEqual({
      first_seen_on: "web",
      name: "Peter Gibbons",
      plan: "premium",
      logins: 5,
    });
    expect(user.body.timezone).toBe("Europe/Berlin");
    expect(user.body.locale).toBe("de-DE");
    // group
    expect(user.body.groups).toEqual({ [groupId]: groupTraits });
    // screen (on the anonymous profile, moved by the alias) and page.
    expect(user.body.devices).toMatchObject([
      { platform: "fcm", token: fcmToken, status: "active" },
      { platform: "apns", token: apnsToken, status: "active" },
    ]);
    // track: the saved item keeps the properties exactly as sent.
    expect(user.body.savedItems.wishlist).toEqual([
      { key: productId, properties: wished, savedAt: expect.any(String) },
    ]);
    // alias: the anonymous id now leads to the known profile.
    const anonymous = await getUser(anonymousId);
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.userId).toBe(userId);
  });

  it("when the client buffers several calls and flushes on close, then the whole batch is stored", async () => {
    const userIds = [uniqueId("user"), uniqueId("user"), uniqueId("user")];
    const analytics = new Analytics({
      writeKey: OTHER_WRITE_KEY,
      host: ctx.app.baseUrl,
      flushAt: 50,
      maxRetries: 0,
    });
    const statuses: number[] = [];
    analytics.on("http_response", (response) => {
      statuses.push(response.status);
    });
    for (const [index, userId] of userIds.entries())
      analytics.identify({ userId, traits: { index } });
    await analytics.closeAndFlush({ timeout: 10_000 });

    expect(statuses).toEqual([200]);
    for (const [index, userId] of userIds.entries()) {
      expect((await getUser(userId)).body.traits).toEqual({ index });
    }
  });
});

describe("tracking API routes", () => {
  it("when one call is posted to its own route without a type, then it is stored as that type", async () => {
    const anonymousId = uniqueId("anon");
    const userId = uniqueId("user");
    const groupId = uniqueId("group");
    const productId = uniqueId("product");
    const fcmToken = uniqueId("fcm-token");
    const calls: [string, Record<string, unknown>][] = [
      ["identify", { anonymousId, traits: { plan: "trial" } }],
      [
        "track",
        {
          anonymousId,
          event: "Product Added to Wishlist",
          properties: { product_id: productId },
        },
      ],
      [
        "screen",
        {
          anonymousId,
          name: "Home",
          context: { device: { type: "android", token: fcmToken } },
        },
      ],
      ["alias", { userId, previousId: anonymousId }],
      ["group", { userId, groupId, traits: { name: "Initech" } }],
      [
        "page",
        { userId, name: "Pricing", context: { timezone: "Asia/Tokyo" } },
      ],
    ];
    for (const [route, call] of calls) {
      const response = await ctx.app.request("POST", `/v1/${route}`, {
        body: { ...call, messageId: uniqueId("msg") },
        headers: basicAuth(WRITE_KEY),
      });
      expect(response, route).toEqual({
        status: 200,
        body: { accepted: 1, duplicates: 0, rejected: [] },
      });
    }

    const user = await getUser(userId);
    expect(user.body.traits).toEqual({ plan: "trial" });
    expect(user.body.groups).toEqual({ [groupId]: { name: "Initech" } });
    expect(user.body.timezone).toBe("Asia/Tokyo");
    expect(user.body.devices).toMatchObject([
      { platform: "fcm", token: fcmToken },
    ]);
    expect(user.body.savedItems.wishlist).toMatchObject([{ key: productId }]);
    expect((await getUser(anonymousId)).body.userId).toBe(userId);
  });

  it("when analytics.js posts to its one-letter paths as text/plain, then each call is stored", async () => {
    const userId = uniqueId("user");
    const paths = {
      i: "identify",
      t: "track",
      p: "page",
      s: "screen",
      g: "group",
      a: "alias",
    };
    for (const [path, type] of Object.entries(paths)) {
      const call = {
        type,
        messageId: uniqueId("msg"),
        userId,
        event: "Clicked",
        groupId: "g-1",
        previousId: uniqueId("anon"),
        writeKey: WRITE_KEY,
      };
      const response = await ctx.app.request("POST", `/v1/${path}`, {
        body: JSON.stringify(call),
        headers: { "content-type": "text/plain" },
      });
      expect(response.status, path).toBe(200);
      expect(response.body.accepted, path).toBe(1);
    }
    const batch = await ctx.app.request("POST", "/v1/b", {
      body: JSON.stringify({
        batch: [identify(userId, { via: "b" })],
        writeKey: WRITE_KEY,
      }),
      headers: { "content-type": "text/plain" },
    });
    expect(batch.body.accepted).toBe(1);
    const stored = await ctx.app.deps.db
      .selectFrom("events")
      .select("type")
      .where("user_id", "=", userId)
      .execute();
    expect(stored.map((row) => row.type).sort()).toEqual([
      "alias",
      "group",
      "identify",
      "identify",
      "page",
      "screen",
      "track",
    ]);
  });

  it("when a call misses what its type needs, then 400 names the field", async () => {
    const response = await ctx.app.request("POST", "/v1/track", {
      body: { userId: uniqueId("user"), properties: {} },
      headers: basicAuth(WRITE_KEY),
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_events");
    expect(response.body.error.details.rejected[0].problems).toEqual([
      { path: "event", message: "is required for track calls" },
    ]);
  });
});

describe("write-key authentication", () => {
  it("when the write key is missing, then 401 invalid_write_key and nothing is stored", async () => {
    const userId = uniqueId("user");
    for (const path of ["/v1/batch", "/v1/identify"]) {
      const body =
        path === "/v1/batch" ? { batch: [identify(userId)] } : identify(userId);
      const response = await ctx.app.request("POST", path, { body });
      expect(response.status, path).toBe(401);
      expect(response.body.error.code, path).toBe("invalid_write_key");
      expect(response.body.error.message, path).toMatch(/write key/i);
    }
    expect((await getUser(userId)).status).toBe(404);
  });

  it("when the write key is unknown, in the header or in the body, then 401 and nothing is stored", async () => {
    const userId = uniqueId("user");
    const inHeader = await ctx.app.request("POST", "/v1/batch", {
      body: { batch: [identify(userId)] },
      headers: basicAuth("not-a-key"),
    });
    expect(inHeader.status).toBe(401);
    expect(inHeader.body.error.code).toBe("invalid_write_key");
    const inBody = await ctx.app.request("POST", "/v1/batch", {
      body: { batch: [identify(userId)], writeKey: "not-a-key" },
    });
    expect(inBody.status).toBe(401);
    expect(inBody.body.error.code).toBe("invalid_write_key");
    // A configured key as the Basic password, not the user name, is not the write key.
    const asPassword = await ctx.app.request("POST", "/v1/identify", {
      body: identify(userId),
      headers: {
        authorization: `Basic ${Buffer.from(`someone:${WRITE_KEY}`).toString("base64")}`,
      },
    });
    expect(asPassword.status).toBe(401);
    expect((await getUser(userId)).status).toBe(404);
  });

  it("when the write key is in the body, then the call is accepted", async () => {
    const userId = uniqueId("user");
    const batch = await ctx.app.request("POST", "/v1/batch", {
      body: {
        batch: [identify(userId, { via: "batch" })],
        writeKey: WRITE_KEY,
      },
    });
    expect(batch.status).toBe(200);
    const single = await ctx.app.request("POST", "/v1/identify", {
      body: { ...identify(userId, { also: "single" }), writeKey: WRITE_KEY },
    });
    expect(single.status).toBe(200);
    expect((await getUser(userId)).body.traits).toEqual({
      via: "batch",
      also: "single",
    });
    // The key authenticates the call; it is a secret and not part of the event.
    const stored = await ctx.app.deps.db
      .selectFrom("events")
      .select("payload")
      .where("user_id", "=", userId)
      .execute();
    expect(stored).toHaveLength(2);
    for (const { payload } of stored)
      expect(Object.keys(payload)).not.toContain("writeKey");
  });

  it("when any of the configured write keys is sent, then it is accepted", async () => {
    const userId = uniqueId("user");
    const response = await ctx.app.request("POST", "/v1/identify", {
      body: identify(userId, { plan: "pro" }),
      headers: basicAuth(OTHER_WRITE_KEY),
    });
    expect(response.status).toBe(200);
    expect((await getUser(userId)).body.traits).toEqual({ plan: "pro" });
  });

  it("when SEGMENT_WRITE_KEYS is not configured, then 401 tells the operator to set it", async () => {
    const closed = await startTestApp(ctx.database);
    try {
      const userId = uniqueId("user");
      const response = await closed.request("POST", "/v1/batch", {
        body: { batch: [identify(userId)], writeKey: WRITE_KEY },
        headers: basicAuth(WRITE_KEY),
      });
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe("invalid_write_key");
      expect(response.body.error.message).toContain("SEGMENT_WRITE_KEYS");
      expect((await getUser(userId)).status).toBe(404);
    } finally {
      await closed.close();
    }
  });
});

describe("POST /v1/batch", () => {
  it("when Segment's documented batch is posted, then every call is stored, unpadded timestamps included", async () => {
    const jake = uniqueId("jake");
    const cindy = uniqueId("cindy");
    const body = exampleBatch({ "019mr8mf4r": jake, "971mj8mk7p": cindy });
    const response = await ctx.app.request("POST", "/v1/batch", {
      body,
      headers: basicAuth(WRITE_KEY),
    });
    expect(response).toEqual({
      status: 200,
      body: { accepted: 4, duplicates: 0, rejected: [] },
    });
    expect((await getUser(jake)).body.traits).toEqual({
      email: "jake@yahoo.com",
      name: "Jake Peterson",
      age: 26,
    });
    expect((await getUser(cindy)).body.traits).toEqual({
      email: "cindy@example.com",
      name: "Cindy Gonzalez",
      age: 23,
    });
    // "2015-2-02T…" is read as the date it means, not replaced by the time of receipt.
    const stored = await ctx.app.deps.db
      .selectFrom("events")
      .select(["type", "timestamp"])
      .where("user_id", "=", cindy)
      .orderBy("timestamp")
      .execute();
    expect(
      stored.map((row) => [row.type, new Date(row.timestamp).toISOString()]),
    ).toEqual([
      ["identify", "2015-02-02T00:30:08.276Z"],
      ["track", "2015-02-02T00:30:12.984Z"],
    ]);
  });

  it("when the batch carries a context, then it is merged under every call's own context", async () => {
    const [a, b] = [uniqueId("user"), uniqueId("user")];
    const response = await ctx.app.request("POST", "/v1/batch", {
      body: {
        context: { timezone: "America/New_York", locale: "en-US" },
        batch: [identify(a), { ...identify(b), context: { locale: "fr-FR" } }],
      },
      headers: basicAuth(WRITE_KEY),
    });
    expect(response.status).toBe(200);
    const first = await getUser(a);
    expect([first.body.timezone, first.body.locale]).toEqual([
      "America/New_York",
      "en-US",
    ]);
    const second = await getUser(b);
    expect([second.body.timezone, second.body.locale]).toEqual([
      "America/New_York",
      "fr-FR",
    ]);
  });

  it("when the batch is empty, missing or not a list, then 400 invalid_body", async () => {
    for (const body of [
      { batch: [] },
      {},
      { batch: "nope" },
      [identify("x")],
    ]) {
      const response = await ctx.app.request("POST", "/v1/batch", {
        body,
        headers: basicAuth(WRITE_KEY),
      });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error.code, JSON.stringify(body)).toBe(
        "invalid_body",
      );
    }
  });

  it("when the body is not JSON, then 400 invalid_json", async () => {
    const response = await ctx.app.request("POST", "/v1/batch", {
      body: "{batch:",
      headers: basicAuth(WRITE_KEY),
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_json");
  });
});

describe("tracking API limits, as Segment's", () => {
  it("when a batch is over 500 KB, then 413 payload_too_large names the limit and nothing is stored", async () => {
    const userId = uniqueId("user");
    // 20 calls of 26 KB each: every call fits 32 KB, the request does not fit 500 KB.
    const batch = Array.from({ length: 20 }, () =>
      identify(userId, { note: "x".repeat(26 * 1024) }),
    );
    const response = await ctx.app.request("POST", "/v1/batch", {
      body: { batch },
      headers: basicAuth(WRITE_KEY),
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe("payload_too_large");
    expect(response.body.error.message).toContain("500 KB");
    expect((await getUser(userId)).status).toBe(404);
  });

  it("when one call of a batch is over 32 KB, then it alone is rejected and the others are stored", async () => {
    const [a, b] = [uniqueId("user"), uniqueId("user")];
    const big = identify(a, { note: "x".repeat(33 * 1024) });
    const response = await ctx.app.request("POST", "/v1/batch", {
      body: {
        batch: [identify(a), big, { type: "track", userId: b }, identify(b)],
      },
      headers: basicAuth(WRITE_KEY),
    });
    expect(response.status).toBe(200);
    expect(response.body.accepted).toBe(2);
    // Positions are the request's, the oversized call's among the others.
    expect(response.body.rejected).toEqual([
      {
        index: 1,
        messageId: big.messageId,
        code: "invalid_event",
        problems: [
          { path: "(event)", message: expect.stringContaining("32768") },
        ],
      },
      expect.objectContaining({ index: 2, code: "invalid_event" }),
    ]);
    expect((await getUser(a)).body.traits).toEqual({});
    expect((await getUser(b)).status).toBe(200);
  });

  it("when a single call over 32 KB is posted to its route, then 400 invalid_events explains the limit", async () => {
    const response = await ctx.app.request("POST", "/v1/identify", {
      body: identify(uniqueId("user"), { note: "x".repeat(33 * 1024) }),
      headers: basicAuth(WRITE_KEY),
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_events");
    expect(response.body.error.details.rejected[0].problems[0].message).toMatch(
      /at most 32768/,
    );
  });
});
