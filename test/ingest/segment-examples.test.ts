import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { segmentSignature } from "../../src/ingest/signature.ts";
import { startTestApp, type TestApp } from "../support/test-app.ts";
import { createTestDatabase, uniqueId } from "../support/test-database.ts";

/*
 * Segment's own documented payloads, ingested as they are. Each example gets a fresh
 * database and app of its own: several of them reuse the messageId
 * 022bb90c-bbac-11e4-8dfc-aa07a5b093db (and the userId 97980cfea0067), so in one shared
 * database every example after the first would rightly be acknowledged as a duplicate
 * and change nothing, and the rest would mix into one profile.
 */

const SECRET = "examples-secret";
/** The write key Segment's batch example carries in its body. */
const EXAMPLE_WRITE_KEY = "YOUR_WRITE_KEY";
const EXAMPLES_DIR = new URL("../fixtures/segment-examples/", import.meta.url);

const EXAMPLES = [
  "01-identify-traits.json",
  "02-track-product-added-to-wishlist.json",
  "03-track-common-fields-device-token.json",
  "04-track-push-notification-tapped.json",
  "05-page.json",
  "06-alias.json",
  "07-group.json",
  "08-tracking-api-v1-batch.json",
  "09-identify-messaging-subscriptions-push.json",
];

type Example = Record<string, unknown>;

function loadExample(name: string): Example {
  return JSON.parse(
    readFileSync(new URL(name, EXAMPLES_DIR), "utf8"),
  ) as Example;
}

/** Runs `check` against a fresh database and app, closed afterwards whatever happens. */
async function withFreshApp(check: (app: TestApp) => Promise<void>) {
  const database = await createTestDatabase();
  const app = await startTestApp(database, {
    env: {
      SEGMENT_SHARED_SECRET: SECRET,
      SEGMENT_WRITE_KEYS: EXAMPLE_WRITE_KEY,
    },
  });
  try {
    await check(app);
  } finally {
    await app.close();
    await database.close();
  }
}

/** Posts one event to the webhook intake, signed as Segment signs it. */
function postWebhook(app: TestApp, event: unknown) {
  const body = JSON.stringify(event);
  return app.request("POST", "/v1/segment", {
    body,
    headers: { "x-signature": segmentSignature(SECRET, body) },
  });
}

async function ingestExample(app: TestApp, name: string) {
  const response = await postWebhook(app, loadExample(name));
  expect(response, name).toEqual({
    status: 200,
    body: { accepted: 1, duplicates: 0, rejected: [] },
  });
}

async function getUser(app: TestApp, userId: string) {
  const response = await app.request(
    "GET",
    `/v1/users/${encodeURIComponent(userId)}`,
    { admin: true },
  );
  expect(response.status, `GET /v1/users/${userId}`).toBe(200);
  return response.body;
}

describe("Segment's documented example payloads", () => {
  it("when the fixtures folder is listed, then every example in it is covered here", () => {
    expect(readdirSync(EXAMPLES_DIR).sort()).toEqual(EXAMPLES);
  });

  it("when 01 (identify with traits) is ingested, then the profile holds every trait", async () => {
    await withFreshApp(async (app) => {
      await ingestExample(app, "01-identify-traits.json");
      const user = await getUser(app, "97980cfea0067");
      expect(user.traits).toEqual({
        name: "Peter Gibbons",
        email: "peter@example.com",
        plan: "premium",
        logins: 5,
        address: {
          street: "6th St",
          city: "San Francisco",
          state: "CA",
          postalCode: "94103",
          country: "USA",
        },
      });
      expect(user.devices).toEqual([]);
      // The call carried both ids: the anonymous visitor is now this user.
      expect((await getUser(app, "507f191e810c19729de860ea")).userId).toBe(
        "97980cfea0067",
      );
    });
  });

  it("when 02 (Product Added to Wishlist) arrives without any user id, then it is rejected with the field to fix, and with a userId it fills the wishlist", async () => {
    await withFreshApp(async (app) => {
      const example = loadExample("02-track-product-added-to-wishlist.json");
      const rejected = await postWebhook(app, example);
      expect(rejected.status).toBe(400);
      expect(rejected.body.error.code).toBe("invalid_events");
      expect(rejected.body.error.details.rejected).toEqual([
        {
          index: 0,
          code: "invalid_event",
          problems: [
            { path: "userId", message: "userId or anonymousId is required" },
          ],
        },
      ]);

      const userId = uniqueId("user");
      const accepted = await postWebhook(app, { ...example, userId });
      expect(accepted.status).toBe(200);
      expect(accepted.body.accepted).toBe(1);
      const user = await getUser(app, userId);
      expect(user.savedItems).toEqual({
        wishlist: [
          {
            key: "507f1f77bcf86cd799439011",
            properties: example.properties,
            savedAt: expect.any(String),
          },
        ],
      });
    });
  });

  it("when 03 (track with the common fields) is ingested, then its iOS token is an APNs device and the user's timezone and locale are set", async () => {
    await withFreshApp(async (app) => {
      await ingestExample(app, "03-track-common-fields-device-token.json");
      const user = await getUser(app, "97980cfea0067");
      expect(user.timezone).toBe("Europe/Amsterdam");
      expect(user.locale).toBe("en-US");
      expect(user.devices).toHaveLength(1);
      expect(user.devices[0]).toMatchObject({
        platform: "apns",
        token:
          "ff15bc0c20c4aa6cd50854ff165fd265c838e5405bfeb9571066395b8c9da449",
        status: "active",
        locale: "en-US",
      });
      expect((await getUser(app, "507f191e810c19729de860ea")).userId).toBe(
        "97980cfea0067",
      );
    });
  });

  it("when 04 (Push Notification Tapped) is ingested, then a profile exists for its user", async () => {
    await withFreshApp(async (app) => {
      await ingestExample(app, "04-track-push-notification-tapped.json");
      const user = await getUser(app, "019mr8mf4r");
      expect(user).toMatchObject({
        userId: "019mr8mf4r",
        traits: {},
        devices: [],
        savedItems: {},
      });
    });
  });

  it("when 05 (page) is ingested, then it is stored and its user has a profile", async () => {
    await withFreshApp(async (app) => {
      await ingestExample(app, "05-page.json");
      const user = await getUser(app, "97980cfea0067");
      expect(user).toMatchObject({ userId: "97980cfea0067", traits: {} });
      // Stored: the same message again is a duplicate.
      const again = await postWebhook(app, loadExample("05-page.json"));
      expect(again.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    });
  });

  it("when 06 (alias) is ingested, then the previous id's profile moves into the userId's", async () => {
    await withFreshApp(async (app) => {
      const previousId = "39239-239239-239239-23923";
      const token = uniqueId("fcm-token");
      const before = await postWebhook(app, {
        type: "identify",
        messageId: uniqueId("msg"),
        anonymousId: previousId,
        traits: { favourite_color: "red" },
        context: {
          device: { type: "android", token },
          timezone: "America/Los_Angeles",
        },
      });
      expect(before.status).toBe(200);

      await ingestExample(app, "06-alias.json");

      const user = await getUser(app, "507f191e81");
      expect(user.traits).toEqual({ favourite_color: "red" });
      expect(user.timezone).toBe("America/Los_Angeles");
      expect(user.devices).toMatchObject([{ platform: "fcm", token }]);
      const previous = await getUser(app, previousId);
      expect(previous.userId).toBe("507f191e81");
    });
  });

  it("when 07 (group) is ingested, then the group's traits are kept under its groupId", async () => {
    await withFreshApp(async (app) => {
      await ingestExample(app, "07-group.json");
      const user = await getUser(app, "97980cfea0067");
      expect(user.groups).toEqual({
        "0e8c78ea9d97a7b8185e8632": {
          name: "Initech",
          industry: "Technology",
          employees: 329,
          plan: "enterprise",
          "total billed": 830,
        },
      });
      // Group traits describe the account, not the person.
      expect(user.traits).toEqual({});
    });
  });

  it("when 08 (tracking-API batch, write key in the body) is posted to /v1/batch, then both users exist with their traits", async () => {
    await withFreshApp(async (app) => {
      const response = await app.request("POST", "/v1/batch", {
        body: loadExample("08-tracking-api-v1-batch.json"),
      });
      expect(response).toEqual({
        status: 200,
        body: { accepted: 4, duplicates: 0, rejected: [] },
      });
      expect((await getUser(app, "019mr8mf4r")).traits).toEqual({
        email: "jake@yahoo.com",
        name: "Jake Peterson",
        age: 26,
      });
      expect((await getUser(app, "971mj8mk7p")).traits).toEqual({
        email: "cindy@example.com",
        name: "Cindy Gonzalez",
        age: 23,
      });
      // The batch context names a "phone" without a token: no device to reach.
      expect((await getUser(app, "019mr8mf4r")).devices).toEqual([]);
    });
  });

  it("when 09 (identify with messaging_subscriptions) is ingested, then push subscriptions become devices with their status and the anonymous id is merged", async () => {
    await withFreshApp(async (app) => {
      const response = await postWebhook(
        app,
        loadExample("09-identify-messaging-subscriptions-push.json"),
      );
      expect(response.status).toBe(200);
      expect(response.body.accepted).toBe(1);

      const user = await getUser(app, "user1234");
      expect(user.traits).toEqual({
        email: "test-user@test-company.com",
        name: "Test User",
      });
      // EMAIL, SMS and WHATSAPP are not push channels: only the two push entries count.
      expect(user.devices).toHaveLength(2);
      const byToken = Object.fromEntries(
        (user.devices as { token: string }[]).map((d) => [d.token, d]),
      );
      expect(byToken["abcd12bbfygdbvbvvvv"]).toMatchObject({
        platform: "fcm",
        status: "unsubscribed",
      });
      // The IOS_PUSH key is a placeholder that is not hex, so it cannot be an APNs token:
      // like the same token on context.device, it is read as a Firebase token of an iOS app.
      expect(byToken["abcd12bbfjfsykdbvbvvvvvv"]).toMatchObject({
        platform: "fcm",
        status: "active",
      });
      expect((await getUser(app, "anonId1234")).userId).toBe("user1234");
    });
  });
});
