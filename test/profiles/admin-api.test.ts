import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { heldDevice, whileOneWaits } from "../support/held-row.ts";
import { ADMIN_TOKEN, useTestApp } from "../support/test-app.ts";
import { apnsToken, fcmToken, uniqueId } from "../support/test-database.ts";
import { ERASED_USER } from "../../src/ingest/event.repository.ts";

const ctx = useTestApp();

/** What a browser's PushSubscription.toJSON() gives. */
function pushSubscription() {
  return {
    endpoint: `https://push.example.test/${uniqueId("sub")}`,
    expirationTime: null,
    keys: {
      p256dh: randomBytes(65).toString("base64url"),
      auth: randomBytes(16).toString("base64url"),
    },
  };
}

async function ingest(...events: Record<string, unknown>[]): Promise<void> {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: events.map((e) => ({ messageId: uniqueId("msg"), ...e })),
  });
  expect(response.body.accepted).toBe(events.length);
}

function admin(method: string, path: string, body?: unknown) {
  return ctx.app.request(method, path, { admin: true, body });
}

async function registerDevice(userId: string, body: unknown): Promise<any> {
  const response = await admin("POST", `/v1/users/${userId}/devices`, body);
  expect(response.status).toBe(201);
  return response.body;
}

describe("admin authentication", () => {
  const refusals: Record<string, string | undefined> = {
    "no header": undefined,
    "a wrong token": `Bearer ${ADMIN_TOKEN}-wrong`,
    "the token without a scheme": ADMIN_TOKEN,
    "Basic instead of Bearer": `Basic ${Buffer.from(`${ADMIN_TOKEN}:`).toString("base64")}`,
    "Bearer without a token": "Bearer",
    "two tokens": `Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}`,
  };

  /** Every admin route, for one user; the body is valid so only auth can fail. */
  function routes(userId: string, deviceId: string) {
    return [
      { method: "GET", path: `/v1/users/${userId}` },
      {
        method: "PUT",
        path: `/v1/users/${userId}/preferences`,
        body: { optOut: true },
      },
      {
        method: "POST",
        path: `/v1/users/${userId}/devices`,
        body: { platform: "fcm", token: fcmToken() },
      },
      { method: "DELETE", path: `/v1/users/${userId}/devices/${deviceId}` },
      { method: "DELETE", path: `/v1/users/${userId}` },
    ];
  }

  async function refused(
    route: { method: string; path: string; body?: unknown },
    authorization: string | undefined,
  ) {
    const response = await fetch(`${ctx.app.baseUrl}${route.path}`, {
      method: route.method,
      headers: {
        "content-type": "application/json",
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: route.body === undefined ? undefined : JSON.stringify(route.body),
    });
    return {
      status: response.status,
      wwwAuthenticate: response.headers.get("www-authenticate"),
      body: await response.json(),
    };
  }

  it("when the admin token is missing, wrong or malformed, then every admin route answers 401 unauthorized and changes nothing", async () => {
    const known = uniqueId("user");
    const device = await registerDevice(known, {
      platform: "apns",
      token: apnsToken(),
    });
    const unknown = uniqueId("user");

    for (const [label, authorization] of Object.entries(refusals)) {
      const answers = async (userId: string) => {
        const responses = [];
        for (const route of routes(userId, device.deviceId))
          responses.push(await refused(route, authorization));
        return responses;
      };
      const [forKnown, forUnknown] = [
        await answers(known),
        await answers(unknown),
      ];
      expect(forKnown, label).toEqual(
        Array(5).fill({
          status: 401,
          wwwAuthenticate: 'Bearer realm="nudge"',
          body: {
            error: { code: "unauthorized", message: expect.any(String) },
          },
        }),
      );
      expect(forUnknown, label).toEqual(forKnown);
    }

    const view = await admin("GET", `/v1/users/${known}`);
    expect(view.body.preferences.optedOut).toBe(false);
    expect(view.body.devices).toEqual([device]);
    expect((await admin("GET", `/v1/users/${unknown}`)).status).toBe(404);
  });

  it("when the token is missing, then a bad body is not even read: 401 before 400", async () => {
    const response = await ctx.app.request(
      "PUT",
      `/v1/users/${uniqueId("user")}/preferences`,
      { body: "{not json" },
    );
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("unauthorized");
  });

  it("when the scheme is written in lower case, then the token is accepted", async () => {
    const userId = uniqueId("user");
    await ingest({ type: "identify", userId });
    const response = await ctx.app.request("GET", `/v1/users/${userId}`, {
      headers: { authorization: `bearer ${ADMIN_TOKEN}` },
    });
    expect(response.status).toBe(200);
  });
});

describe("GET /v1/users/:userId", () => {
  it("when the user is unknown, then 404 user_not_found", async () => {
    const userId = uniqueId("user");
    const response = await admin("GET", `/v1/users/${userId}`);
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("user_not_found");
    expect(response.body.error.message).toContain(userId);
  });

  it("when the user is known, then the profile shows traits, devices, effective preferences and saved items", async () => {
    const userId = uniqueId("user");
    const token = apnsToken();
    await ingest(
      {
        type: "identify",
        userId,
        traits: { first_name: "Ada", promotions_opt_in: false },
        context: {
          timezone: "Europe/Berlin",
          locale: "de-DE",
          device: { type: "ios", token },
        },
      },
      {
        type: "track",
        event: "Product Added to Wishlist",
        userId,
        properties: { product_id: "p-1", name: "Lamp" },
      },
    );
    const response = await admin("GET", `/v1/users/${userId}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      userId,
      traits: { first_name: "Ada", promotions_opt_in: false },
      groups: {},
      timezone: "Europe/Berlin",
      locale: "de-DE",
      preferences: {
        optedOut: false,
        categories: { promotions: "out", orders: "in" },
      },
      devices: [
        {
          deviceId: expect.any(String),
          platform: "apns",
          token,
          subscription: null,
          status: "active",
          locale: "de-DE",
          disabledReason: null,
          disabledAt: null,
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
        },
      ],
      savedItems: {
        wishlist: [
          {
            key: "p-1",
            properties: { product_id: "p-1", name: "Lamp" },
            savedAt: expect.any(String),
          },
        ],
      },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      notifications: [],
    });
  });
});

describe("PUT /v1/users/:userId/preferences", () => {
  it("when the opt-out and categories are set, then the effective preferences are answered and kept", async () => {
    const userId = uniqueId("user");
    await ingest({ type: "identify", userId });
    const path = `/v1/users/${userId}/preferences`;

    const first = await admin("PUT", path, {
      optOut: true,
      categories: { promotions: "out" },
    });
    expect(first).toEqual({
      status: 200,
      body: {
        optedOut: true,
        categories: { promotions: "out", orders: "in" },
      },
    });
    const second = await admin("PUT", path, {
      categories: { promotions: true, orders: false },
    });
    expect(second.body).toEqual({
      optedOut: true,
      categories: { promotions: "in", orders: "out" },
    });
    const third = await admin("PUT", path, {
      optOut: false,
      categories: { orders: "in" },
    });
    expect(third.body).toEqual({
      optedOut: false,
      categories: { promotions: "in", orders: "in" },
    });
    expect(
      (await admin("GET", `/v1/users/${userId}`)).body.preferences,
    ).toEqual(third.body);
  });

  it("when the body comes with another content type (curl -d sends a form's), then it is still read as JSON, or refused when it is not JSON", async () => {
    const userId = uniqueId("user");
    const path = `/v1/users/${userId}/preferences`;
    const form = { "content-type": "application/x-www-form-urlencoded" };

    const changed = await ctx.app.request("PUT", path, {
      admin: true,
      body: JSON.stringify({ optOut: true }),
      headers: form,
    });
    const notJson = await ctx.app.request("PUT", path, {
      admin: true,
      body: "optOut=false",
      headers: form,
    });

    expect(changed.status).toBe(200);
    expect(changed.body.optedOut).toBe(true);
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe("invalid_json");
    expect(
      (await admin("GET", `/v1/users/${userId}`)).body.preferences,
    ).toEqual(changed.body);
  });

  it("when the user was never seen, then the profile is created with the preferences", async () => {
    const userId = uniqueId("user");
    const response = await admin("PUT", `/v1/users/${userId}/preferences`, {
      categories: { promotions: false },
    });
    expect(response.status).toBe(200);
    const view = await admin("GET", `/v1/users/${userId}`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      userId,
      traits: {},
      devices: [],
      preferences: {
        optedOut: false,
        categories: { promotions: "out", orders: "in" },
      },
    });
  });

  it("when a category is not declared in the rules file, then 400 unknown_category names the declared ones and nothing changes", async () => {
    const userId = uniqueId("user");
    const response = await admin("PUT", `/v1/users/${userId}/preferences`, {
      optOut: true,
      categories: { promotions: "out", newsletter: "out" },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("unknown_category");
    expect(response.body.error.message).toContain("newsletter");
    expect(response.body.error.message).toContain("promotions, orders");
    expect((await admin("GET", `/v1/users/${userId}`)).status).toBe(404);
  });

  it("when the body is invalid, then 400 invalid_body lists every bad field", async () => {
    const response = await admin(
      "PUT",
      `/v1/users/${uniqueId("user")}/preferences`,
      { optOut: "yes", categories: { promotions: "maybe" }, colour: "red" },
    );
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_body");
    const paths = response.body.error.details.problems.map((p: any) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(["optOut", "categories.promotions", "(body)"]),
    );
    expect(response.body.error.message).toContain("colour");
  });

  it("when the body is not JSON, then 400 invalid_json", async () => {
    const response = await admin(
      "PUT",
      `/v1/users/${uniqueId("user")}/preferences`,
      "{optOut: true",
    );
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_json");
  });
});

describe("devices", () => {
  it("when an APNs token, an FCM token and a Web Push subscription are registered, then each answers 201 with the stored device", async () => {
    const userId = uniqueId("user");
    const [apns, fcm, subscription] = [
      apnsToken(),
      fcmToken(),
      pushSubscription(),
    ];
    const ios = await registerDevice(userId, { platform: "apns", token: apns });
    expect(ios).toMatchObject({
      deviceId: expect.any(String),
      platform: "apns",
      token: apns,
      status: "active",
    });
    const android = await registerDevice(userId, {
      platform: "fcm",
      token: fcm,
      locale: "pt-BR",
      status: "unsubscribed",
    });
    expect(android).toMatchObject({
      platform: "fcm",
      token: fcm,
      locale: "pt-BR",
      status: "unsubscribed",
    });
    const web = await registerDevice(userId, {
      platform: "webpush",
      subscription,
    });
    expect(web).toMatchObject({
      platform: "webpush",
      token: subscription.endpoint,
      subscription,
      status: "active",
    });

    const devices = (await admin("GET", `/v1/users/${userId}`)).body.devices;
    expect(devices).toHaveLength(3);
    expect(devices).toEqual(expect.arrayContaining([ios, android, web]));
  });

  it("when another user registers a known token, then the same device moves to that user", async () => {
    const [first, second, token] = [
      uniqueId("user"),
      uniqueId("user"),
      apnsToken(),
    ];
    const device = await registerDevice(first, { platform: "apns", token });
    const moved = await registerDevice(second, { platform: "apns", token });
    expect(moved.deviceId).toBe(device.deviceId);
    expect((await admin("GET", `/v1/users/${first}`)).body.devices).toEqual([]);
  });

  it("when a token holds a NUL, which PostgreSQL cannot store, then it is stored with U+FFFD in its place", async () => {
    const [userId, token] = [uniqueId("user"), fcmToken()];
    const device = await registerDevice(userId, {
      platform: "fcm",
      token: `${token}\u0000`,
    });
    expect(device.token).toBe(`${token}\uFFFD`);
    const again = await registerDevice(userId, {
      platform: "fcm",
      token: `${token}\uFFFD`,
    });
    expect(again.deviceId).toBe(device.deviceId);
  });

  it("when the device body is invalid, then 400 invalid_body names the field", async () => {
    const userId = uniqueId("user");
    const cases: [unknown, string][] = [
      [{}, "platform"],
      [{ platform: "sms", token: "x" }, "platform"],
      [{ platform: "apns" }, "token"],
      [{ platform: "fcm", token: "   " }, "token"],
      [{ platform: "fcm", token: fcmToken(), status: "disabled" }, "status"],
      [{ platform: "fcm", token: fcmToken(), colour: "red" }, "(body)"],
      [{ platform: "webpush", token: "https://push.example.test/x" }, "(body)"],
      [
        { platform: "webpush", subscription: { endpoint: "http://x.test" } },
        "subscription",
      ],
    ];
    for (const [body, path] of cases) {
      const response = await admin("POST", `/v1/users/${userId}/devices`, body);
      const what = JSON.stringify(body);
      expect(response.status, what).toBe(400);
      expect(response.body.error.code, what).toBe("invalid_body");
      expect(
        response.body.error.details.problems.map((p: any) => p.path),
        what,
      ).toContain(path);
    }
    const invalidJson = await admin(
      "POST",
      `/v1/users/${userId}/devices`,
      "{platform",
    );
    expect(invalidJson.status).toBe(400);
    expect(invalidJson.body.error.code).toBe("invalid_json");
    expect((await admin("GET", `/v1/users/${userId}`)).status).toBe(404);
  });

  it("when a device is deleted, then 204, it is gone, and deleting it again is 404 device_not_found", async () => {
    const userId = uniqueId("user");
    const kept = await registerDevice(userId, {
      platform: "fcm",
      token: fcmToken(),
    });
    const device = await registerDevice(userId, {
      platform: "apns",
      token: apnsToken(),
    });
    const path = `/v1/users/${userId}/devices/${device.deviceId}`;

    expect(await admin("DELETE", path)).toEqual({
      status: 204,
      body: undefined,
    });
    expect((await admin("GET", `/v1/users/${userId}`)).body.devices).toEqual([
      kept,
    ]);
    const again = await admin("DELETE", path);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("device_not_found");
  });

  it("when a device is deleted under another user, then 404 device_not_found and it stays", async () => {
    const [owner, other] = [uniqueId("user"), uniqueId("user")];
    const device = await registerDevice(owner, {
      platform: "fcm",
      token: fcmToken(),
    });
    const response = await admin(
      "DELETE",
      `/v1/users/${other}/devices/${device.deviceId}`,
    );
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("device_not_found");
    expect((await admin("GET", `/v1/users/${owner}`)).body.devices).toEqual([
      device,
    ]);
  });
});

describe.runIf(Boolean(process.env.TEST_DATABASE_URL))(
  "a device registered while its user is merged away (PostgreSQL)",
  () => {
    it("when the registration commits after the merge, then the device moves to the user merged into", async () => {
      const [anonymousId, userId, token] = [
        uniqueId("anon"),
        uniqueId("user"),
        apnsToken(),
      ];
      let registered: any;
      await whileOneWaits(
        ctx.database.url ?? "",
        heldDevice(token),
        // Resolved to the anonymous id, the registration waits to write the device.
        async () => {
          registered = await registerDevice(anonymousId, {
            platform: "apns",
            token,
          });
        },
        () => ingest({ type: "identify", userId, anonymousId }),
      );

      const view = (await admin("GET", `/v1/users/${userId}`)).body;
      expect(view.devices).toEqual([
        expect.objectContaining({ platform: "apns", token, status: "active" }),
      ]);
      expect(registered).toEqual(view.devices[0]);
    });
  },
);

describe("DELETE /v1/users/:userId", () => {
  it("when a user is deleted, then 204, GET is 404, and their token can be registered by someone else", async () => {
    const [userId, anonymousId, token] = [
      uniqueId("user"),
      uniqueId("anon"),
      apnsToken(),
    ];
    await ingest(
      { type: "identify", userId, anonymousId, traits: { name: "Gone" } },
      {
        type: "track",
        event: "Product Added to Wishlist",
        userId,
        properties: { product_id: "p-1" },
      },
    );
    await registerDevice(userId, { platform: "apns", token });
    await admin("PUT", `/v1/users/${userId}/preferences`, { optOut: true });

    expect(await admin("DELETE", `/v1/users/${userId}`)).toEqual({
      status: 204,
      body: undefined,
    });
    expect((await admin("GET", `/v1/users/${userId}`)).status).toBe(404);
    expect((await admin("GET", `/v1/users/${anonymousId}`)).status).toBe(404);
    expect((await admin("DELETE", `/v1/users/${userId}`)).status).toBe(204);

    const other = uniqueId("user");
    const device = await registerDevice(other, { platform: "apns", token });
    expect((await admin("GET", `/v1/users/${other}`)).body.devices).toEqual([
      device,
    ]);
  });
});

describe("erasure and retries", () => {
  it("when a call sent before the erasure is retried after it, then it is a duplicate and nothing comes back, and only its messageId is kept", async () => {
    const userId = uniqueId("user");
    const call = {
      type: "identify",
      userId,
      messageId: uniqueId("msg"),
      traits: { name: "Gone", email: "gone@example.com" },
    };
    const post = () => ctx.app.request("POST", "/v1/segment", { body: call });
    expect((await post()).body.accepted).toBe(1);
    expect((await admin("DELETE", `/v1/users/${userId}`)).status).toBe(204);

    const retried = await post();

    expect(retried.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    expect((await admin("GET", `/v1/users/${userId}`)).status).toBe(404);
    const kept = await ctx.database.db
      .selectFrom("events")
      .select(["user_id", "event", "payload"])
      .where("message_id", "=", call.messageId)
      .execute();
    expect(kept).toEqual([{ user_id: ERASED_USER, event: null, payload: {} }]);
  });
});

describe("unknown routes", () => {
  it("when a body nests deeper than 64 levels, then 400 invalid_body", async () => {
    const response = await admin(
      "PUT",
      `/v1/users/${uniqueId("user")}/preferences`,
      '{"categories":' + '{"a":'.repeat(20_000) + "1" + "}".repeat(20_001),
    );
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_body");
  });

  it("when a path parameter is not percent-encoded UTF-8, then 400 invalid_path", async () => {
    for (const [method, path] of [
      ["GET", "/v1/users/a%ZZ"],
      ["DELETE", "/v1/users/a%ED%A0%80/devices/x"],
    ] as const) {
      const response = await admin(method, path);
      expect(response.status, path).toBe(400);
      expect(response.body.error.code, path).toBe("invalid_path");
    }
  });

  it("when no route matches, then 404 not_found as JSON", async () => {
    const response = await ctx.app.request("GET", "/v1/nothing-here");
    expect(response.status).toBe(404);
    expect(response.body.error).toEqual({
      code: "not_found",
      message: expect.stringContaining("GET /v1/nothing-here"),
    });
    for (const [method, path] of [
      ["GET", "/v1/users"],
      ["PATCH", `/v1/users/${uniqueId("user")}`],
    ] as const) {
      const adminResponse = await admin(method, path);
      expect(adminResponse.status, `${method} ${path}`).toBe(404);
      expect(adminResponse.body.error.code).toBe("not_found");
    }
  });
});
