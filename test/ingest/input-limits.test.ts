import { randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  MAX_CATEGORY_LENGTH,
  MAX_DEVICE_TOKEN_BYTES,
  MAX_ID_LENGTH,
  MAX_ITEM_KEY_BYTES,
  MAX_MESSAGE_ID_LENGTH,
} from "../../src/ingest/input-limits.ts";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

/*
 * A value longer than an index row holds (2,704 bytes) once failed the whole request
 * with 500, good calls included. Each keyed value now has a limit checked first.
 */

const ctx = useTestApp();

/**
 * `length` characters of 3 bytes each in UTF-8, random so that PostgreSQL cannot
 * compress them: the widest a value within a character limit can be.
 */
function wideText(length: number): string {
  return Array.from({ length }, () =>
    String.fromCharCode(0x4e00 + randomInt(0x5000)),
  ).join("");
}

/** `bytes` random ASCII bytes: the longest value within a byte limit. */
function asciiText(bytes: number): string {
  return Array.from({ length: bytes }, () =>
    String.fromCharCode(0x21 + randomInt(0x5e)),
  ).join("");
}

function post(events: unknown[]) {
  return ctx.app.request("POST", "/v1/segment", { body: events });
}

function admin(method: string, path: string, body?: unknown) {
  return ctx.app.request(method, path, { admin: true, body });
}

function user(userId: string) {
  return admin("GET", `/v1/users/${encodeURIComponent(userId)}`);
}

function identify(userId: string, extra: Record<string, unknown> = {}) {
  return { type: "identify", messageId: uniqueId("msg"), userId, ...extra };
}

function wishlistAdd(userId: string, productId: string) {
  return {
    type: "track",
    event: "Product Added to Wishlist",
    messageId: uniqueId("msg"),
    userId,
    properties: { product_id: productId },
  };
}

describe("values that end up in an index, from Segment", () => {
  it("when a device token is 8 KB, then the call and the rest of the batch are stored without that device", async () => {
    const [good, long] = [uniqueId("user"), uniqueId("user")];
    const token = apnsToken();
    const response = await post([
      identify(good, { context: { device: { type: "ios", token } } }),
      identify(long, {
        traits: { name: "Long" },
        context: { device: { type: "android", token: asciiText(8 * 1024) } },
      }),
      identify(long, {
        context: {
          messaging_subscriptions: [
            {
              key: asciiText(8 * 1024),
              type: "IOS_PUSH",
              status: "SUBSCRIBED",
            },
            {
              key: `https://push.example.test/${asciiText(8 * 1024)}`,
              type: "WEB_PUSH",
              status: "SUBSCRIBED",
            },
          ],
        },
      }),
    ]);

    expect(response.status).toBe(200);
    const tooLong = (index: number) => ({
      index,
      messageId: expect.any(String),
      code: "device_token_too_long",
      message: expect.stringContaining("more than 2048 bytes"),
    });
    expect(response.body).toEqual({
      accepted: 3,
      duplicates: 0,
      rejected: [],
      warnings: [tooLong(1), tooLong(2), tooLong(2)],
    });
    expect((await user(good)).body.devices).toEqual([
      expect.objectContaining({ platform: "apns", token }),
    ]);
    const stored = (await user(long)).body;
    expect(stored.traits).toEqual({ name: "Long" });
    expect(stored.devices).toEqual([]);
  });

  it("when a wishlist product_id is 8 KB, then that call is rejected with the key's path and the valid call is stored", async () => {
    const userId = uniqueId("user");
    const tooLong = wishlistAdd(userId, asciiText(8 * 1024));
    const response = await post([wishlistAdd(userId, "p-1"), tooLong]);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [
        {
          index: 1,
          messageId: tooLong.messageId,
          code: "invalid_event",
          problems: [
            {
              path: "properties.product_id",
              message: `is the key of an item of collection "wishlist" and must be at most ${String(MAX_ITEM_KEY_BYTES)} bytes (UTF-8)`,
            },
          ],
        },
      ],
    });
    const saved = (await user(userId)).body.savedItems.wishlist;
    expect(saved.map((item: { key: string }) => item.key)).toEqual(["p-1"]);
  });

  it("when ids are one character over their limit, then the call is rejected saying so", async () => {
    const response = await post([
      identify(uniqueId("user")),
      identify(wideText(MAX_ID_LENGTH + 1)),
      { ...identify(uniqueId("user")), messageId: "m".repeat(201) },
    ]);
    expect(response.body.accepted).toBe(1);
    expect(response.body.rejected).toEqual([
      expect.objectContaining({
        index: 1,
        problems: [
          {
            path: "userId",
            message: `must be at most ${String(MAX_ID_LENGTH)} characters`,
          },
        ],
      }),
      expect.objectContaining({
        index: 2,
        problems: [
          {
            path: "messageId",
            message: `must be at most ${String(MAX_MESSAGE_ID_LENGTH)} characters`,
          },
        ],
      }),
    ]);
  });

  it("when every keyed value is at its limit, in characters as wide as UTF-8 makes them, then the calls are stored", async () => {
    const [userId, anonymousId] = [wideText(MAX_ID_LENGTH), wideText(250)];
    const productId = asciiText(MAX_ITEM_KEY_BYTES);
    const token = asciiText(MAX_DEVICE_TOKEN_BYTES);
    const category = wideText(MAX_CATEGORY_LENGTH);
    const response = await post([
      {
        ...identify(userId),
        messageId: wideText(MAX_MESSAGE_ID_LENGTH),
        anonymousId,
        context: {
          device: { type: "android", token },
          messaging_subscriptions: [
            {
              key: apnsToken(),
              type: "IOS_PUSH",
              status: "SUBSCRIBED",
              groups: [{ name: category, status: "SUBSCRIBED" }],
            },
          ],
        },
      },
      wishlistAdd(userId, productId),
      { ...wishlistAdd(userId, wideText(MAX_ITEM_KEY_BYTES / 3)) },
      // A rule match, and once planned a notification, of this user.
      {
        ...identify(userId),
        type: "track",
        event: "Product Added",
        properties: { name: "Lamp" },
      },
    ]);

    expect(response.body).toEqual({ accepted: 4, duplicates: 0, rejected: [] });
    await ctx.app.deps.planner.drain();
    const stored = (await user(anonymousId)).body;
    expect(stored.userId).toBe(userId);
    expect(stored.devices).toContainEqual(
      expect.objectContaining({ platform: "fcm", token }),
    );
    expect(stored.savedItems.wishlist).toHaveLength(2);
    expect(stored.notifications).toEqual([
      expect.objectContaining({ ruleId: "cart-abandoned", status: "pending" }),
    ]);
  });

  it("when a messaging_subscriptions group name is longer than any category can be, then it is ignored and the call kept", async () => {
    const userId = uniqueId("user");
    const response = await post([
      identify(userId, {
        context: {
          messaging_subscriptions: [
            {
              key: apnsToken(),
              type: "IOS_PUSH",
              status: "SUBSCRIBED",
              groups: [
                { name: asciiText(8 * 1024), status: "UNSUBSCRIBED" },
                { name: "promotions", status: "UNSUBSCRIBED" },
              ],
            },
          ],
        },
      }),
    ]);
    expect(response.body.accepted).toBe(1);
    expect((await user(userId)).body.preferences.categories).toEqual({
      promotions: "out",
      orders: "in",
    });
  });
});

describe("values that end up in an index, from the admin API", () => {
  it("when a user id in the path is over the limit, then 400 invalid_path on every user route", async () => {
    const userId = encodeURIComponent(wideText(MAX_ID_LENGTH + 1));
    for (const [method, path, body] of [
      ["GET", `/v1/users/${userId}`, undefined],
      ["PUT", `/v1/users/${userId}/preferences`, { optOut: true }],
      [
        "POST",
        `/v1/users/${userId}/devices`,
        { platform: "apns", token: apnsToken() },
      ],
      ["DELETE", `/v1/users/${userId}`, undefined],
    ] as const) {
      const response = await admin(method, path, body);
      expect(response.status, `${method} ${path}`).toBe(400);
      expect(response.body.error).toEqual({
        code: "invalid_path",
        message: expect.stringContaining(
          `at most ${String(MAX_ID_LENGTH)} characters`,
        ),
      });
    }
  });

  it("when notifications are asked for by a user id over the limit, then 400 invalid_query", async () => {
    const userId = encodeURIComponent(wideText(MAX_ID_LENGTH + 1));
    const response = await admin("GET", `/v1/notifications?userId=${userId}`);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("invalid_query");
    expect(response.body.error.message).toContain(
      `userId: must be at most ${String(MAX_ID_LENGTH)} characters`,
    );
  });

  it("when a device token or Web Push endpoint is over the limit, then 400 invalid_body naming it, and one at the limit is stored", async () => {
    const userId = uniqueId("user");
    const keys = { p256dh: "BNc", auth: "tB" };
    const tooLong = [
      { platform: "fcm", token: asciiText(MAX_DEVICE_TOKEN_BYTES + 1) },
      {
        platform: "webpush",
        subscription: {
          endpoint: `https://push.example.test/${asciiText(8 * 1024)}`,
          keys,
        },
      },
    ];
    for (const body of tooLong) {
      const response = await admin("POST", `/v1/users/${userId}/devices`, body);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("invalid_body");
      expect(response.body.error.message).toContain(
        `at most ${String(MAX_DEVICE_TOKEN_BYTES)} bytes`,
      );
    }
    const token = asciiText(MAX_DEVICE_TOKEN_BYTES);
    const atLimit = await admin("POST", `/v1/users/${userId}/devices`, {
      platform: "fcm",
      token,
    });
    expect(atLimit.status).toBe(201);
    expect(atLimit.body.token).toBe(token);
  });
});
