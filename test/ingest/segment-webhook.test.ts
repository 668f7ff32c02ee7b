import { describe, expect, it } from "vitest";
import { segmentSignature } from "../../src/ingest/signature.ts";
import { useTestApp } from "../support/test-app.ts";
import { uniqueId } from "../support/test-database.ts";

const SECRET = "webhook-secret";

const ctx = useTestApp({
  env: { SEGMENT_SHARED_SECRET: SECRET, MAX_BODY_BYTES: "4096" },
});

function signed(body: string, signature = segmentSignature(SECRET, body)) {
  return { body, headers: { "x-signature": signature } };
}

function identify(userId: string, traits: Record<string, unknown> = {}) {
  return { type: "identify", messageId: uniqueId("msg"), userId, traits };
}

async function postSigned(payload: unknown) {
  const body = JSON.stringify(payload);
  const signedBody = Array.isArray(payload) ? JSON.stringify(payload[0]) : body;
  return ctx.app.request("POST", "/v1/segment", {
    body,
    headers: { "x-signature": segmentSignature(SECRET, signedBody) },
  });
}

describe("POST /v1/segment", () => {
  it("when a single event is signed over its raw body, then it is stored", async () => {
    const userId = uniqueId("user");
    const response = await ctx.app.request(
      "POST",
      "/v1/segment",
      signed(JSON.stringify(identify(userId, { plan: "pro" }))),
    );
    expect(response).toEqual({
      status: 200,
      body: { accepted: 1, duplicates: 0, rejected: [] },
    });
    const user = await ctx.app.request("GET", `/v1/users/${userId}`, {
      admin: true,
    });
    expect(user.body.traits).toEqual({ plan: "pro" });
  });

  it("when a batch array is signed over its first element, then every event is stored", async () => {
    const [a, b] = [uniqueId("user"), uniqueId("user")];
    const response = await postSigned([identify(a), identify(b)]);
    expect(response.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect(
      (await ctx.app.request("GET", `/v1/users/${b}`, { admin: true })).status,
    ).toBe(200);
  });

  it("when the signature is missing or wrong, then 401 says which and nothing is stored", async () => {
    const userId = uniqueId("user");
    const body = JSON.stringify(identify(userId));
    const missing = await ctx.app.request("POST", "/v1/segment", { body });
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe("missing_signature");
    const wrong = await ctx.app.request(
      "POST",
      "/v1/segment",
      signed(body, "0".repeat(40)),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("invalid_signature");
    const garbage = await ctx.app.request(
      "POST",
      "/v1/segment",
      signed(body, "not-hex"),
    );
    expect(garbage.status).toBe(401);
    // Unsigned, a body of the wrong shape is refused for its missing signature first.
    for (const shapeless of ["[]", "42", "{not json", ""]) {
      const unsigned = await ctx.app.request("POST", "/v1/segment", {
        body: shapeless,
      });
      expect(unsigned.status, shapeless).toBe(401);
      expect(unsigned.body.error.code, shapeless).toBe("missing_signature");
    }
    expect(
      (await ctx.app.request("GET", `/v1/users/${userId}`, { admin: true }))
        .status,
    ).toBe(404);
  });

  it("when the body is not JSON, then 400 invalid_json", async () => {
    const response = await ctx.app.request(
      "POST",
      "/v1/segment",
      signed("{not json"),
    );
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_json");
    expect(response.body.error.message).toMatch(/not valid JSON/);
  });

  it("when the body is empty, a scalar or an empty array, then 400 invalid_body", async () => {
    // An array is signed over its first element: an empty one over nothing.
    for (const [body, signedOver] of [
      ["", ""],
      ["42", "42"],
      ["[]", ""],
    ] as const) {
      const response = await ctx.app.request(
        "POST",
        "/v1/segment",
        signed(body, segmentSignature(SECRET, signedOver)),
      );
      expect(response.status, body).toBe(400);
      expect(response.body.error.code, body).toBe("invalid_body");
    }
  });

  it("when the body says it is gzip but does not inflate, then 400 invalid_body", async () => {
    const body = JSON.stringify(identify(uniqueId("user")));
    const response = await ctx.app.request("POST", "/v1/segment", {
      body,
      headers: {
        "content-encoding": "gzip",
        "x-signature": segmentSignature(SECRET, body),
      },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_body");
    expect(response.body.error.message).toMatch(/cannot be read/);
  });

  it("when the body is over MAX_BODY_BYTES, then 413 names the limit", async () => {
    const big = identify(uniqueId("user"), { blob: "x".repeat(5000) });
    const response = await ctx.app.request(
      "POST",
      "/v1/segment",
      signed(JSON.stringify(big)),
    );
    expect(response.status).toBe(413);
    expect(response.body.error).toMatchObject({ code: "payload_too_large" });
    expect(response.body.error.message).toContain("4096");
  });

  it("when a batch mixes valid and invalid events, then the valid ones are stored and each invalid one is reported", async () => {
    const good = uniqueId("user");
    const response = await postSigned([
      identify(good),
      { type: "track", messageId: "m-no-event", userId: good },
      { type: "launch", userId: good },
      { type: "track", event: "Seen" },
    ]);
    expect(response.status).toBe(200);
    expect(response.body.accepted).toBe(1);
    expect(response.body.rejected).toEqual([
      {
        index: 1,
        messageId: "m-no-event",
        code: "invalid_event",
        problems: [{ path: "event", message: "is required for track calls" }],
      },
      {
        index: 2,
        code: "invalid_event",
        problems: [
          { path: "type", message: expect.stringContaining("must be one of") },
        ],
      },
      {
        index: 3,
        code: "invalid_event",
        problems: [
          { path: "userId", message: "userId or anonymousId is required" },
        ],
      },
    ]);
  });

  it("when every event is invalid, then 400 lists what to fix", async () => {
    const response = await postSigned({
      type: "alias",
      userId: uniqueId("user"),
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_events");
    expect(response.body.error.details.rejected[0].problems).toEqual([
      { path: "previousId", message: "is required for alias calls" },
    ]);
  });

  it("when version is a number or a string, then both are accepted", async () => {
    const userId = uniqueId("user");
    const response = await postSigned([
      { ...identify(userId), version: 2 },
      { ...identify(userId), version: "1.1" },
    ]);
    expect(response.body.accepted).toBe(2);
  });

  it("when calls hold a NUL or an unpaired surrogate, which PostgreSQL cannot store, then they are stored with U+FFFD in their place, beside the request's other calls", async () => {
    const [a, b, token] = [uniqueId("user"), uniqueId("user"), uniqueId("fcm")];
    // The first call, which the signature covers, is the one with the most to replace.
    const response = await postSigned([
      {
        ...identify(`${a}\u0000`, {
          "name\u0000": "Zoë\u0000",
          city: "\ud800Köln",
        }),
        context: { device: { type: "android", token: `${token}\u0000` } },
      },
      {
        type: "track",
        event: "Seen \udc00",
        messageId: uniqueId("msg"),
        userId: b,
        properties: { note: "\u0000" },
      },
      identify(b, { plan: "pro" }),
    ]);
    expect(response.body).toEqual({ accepted: 3, duplicates: 0, rejected: [] });

    const stored = `${a}\uFFFD`;
    const first = await ctx.app.request(
      "GET",
      `/v1/users/${encodeURIComponent(stored)}`,
      { admin: true },
    );
    expect(first.body.traits).toEqual({
      "name\uFFFD": "Zoë\uFFFD",
      city: "\uFFFDKöln",
    });
    expect(first.body.devices.map((d: { token: string }) => d.token)).toEqual([
      `${token}\uFFFD`,
    ]);
    // The admin API reads a NUL in its path as the same replacement.
    const byNul = await ctx.app.request("GET", `/v1/users/${a}%00`, {
      admin: true,
    });
    expect(byNul.body.userId).toBe(stored);
    const second = await ctx.app.request("GET", `/v1/users/${b}`, {
      admin: true,
    });
    expect(second.body.traits).toEqual({ plan: "pro" });
  });

  it("when a messageId repeats, then it is acknowledged and changes nothing", async () => {
    const userId = uniqueId("user");
    const first = identify(userId, { plan: "free" });
    expect((await postSigned(first)).body.accepted).toBe(1);
    await postSigned(identify(userId, { plan: "pro" }));
    const retry = await postSigned({
      ...first,
      traits: { plan: "free", extra: true },
    });
    expect(retry).toEqual({
      status: 200,
      body: { accepted: 0, duplicates: 1, rejected: [] },
    });
    const user = await ctx.app.request("GET", `/v1/users/${userId}`, {
      admin: true,
    });
    expect(user.body.traits).toEqual({ plan: "pro" });
  });

  it("when the same message is retried concurrently, then exactly one copy is applied", async () => {
    const userId = uniqueId("user");
    const event = {
      type: "track",
      event: "Product Added to Wishlist",
      messageId: uniqueId("msg"),
      userId,
      properties: { product_id: "p-1" },
    };
    const responses = await Promise.all(
      Array.from({ length: 12 }, () => postSigned(event)),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(
      responses.reduce((sum, r) => sum + (r.body.accepted as number), 0),
    ).toBe(1);
    expect(
      responses.reduce((sum, r) => sum + (r.body.duplicates as number), 0),
    ).toBe(11);
    const user = await ctx.app.request("GET", `/v1/users/${userId}`, {
      admin: true,
    });
    expect(user.body.savedItems.wishlist).toHaveLength(1);
  });

  it("when a delete notice arrives, then the user and everything about them is erased", async () => {
    const userId = uniqueId("user");
    await postSigned({
      ...identify(userId, { name: "Erase Me" }),
      context: { device: { type: "android", token: uniqueId("fcm") } },
    });
    const response = await postSigned({
      type: "delete",
      messageId: uniqueId("msg"),
      userId,
    });
    expect(response.body.accepted).toBe(1);
    expect(
      (await ctx.app.request("GET", `/v1/users/${userId}`, { admin: true }))
        .status,
    ).toBe(404);
  });
});
