import { expect } from "vitest";
import type { TestApp } from "./test-app.ts";
import type { TestDatabase } from "./test-database.ts";
import { apnsToken, uniqueId } from "./test-database.ts";

/** The rules the dashboard's browser tests show: a test with variants, a delayed reminder. */
export const dashboardRules = {
  settings: { quietHours: { start: "21:00", end: "08:00" } },
  rules: [
    {
      id: "ping",
      trigger: 'event = "Ping"',
      delivery: { quietHours: false },
      message: {
        title: "Hi {{ profile.traits.first_name | default: 'there' }}",
        body: "Something new for you",
        deepLink: "shop://new",
        locales: { de: { title: "Hallo", body: "Etwas Neues für dich" } },
      },
      variants: [
        { id: "a", weight: 50 },
        { id: "b", weight: 50, message: { title: "Look what's new" } },
      ],
      conversion: { event: "Order Completed", within: "1h" },
    },
    {
      id: "cart-reminder",
      trigger: 'event = "Product Added"',
      delivery: { delay: "1h", quietHours: false },
      message: { title: "Still thinking about it?", body: "Your cart waits" },
    },
  ],
};

export type Seeded = { pingUsers: string[]; cartUsers: string[] };

/**
 * Through the HTTP API, as Segment would: four users with a phone get a ping, one
 * taps it and buys; a user without a device is suppressed; two users fill a cart and
 * their reminders wait for the hour's delay.
 */
export async function seedDashboard(
  app: TestApp,
  database: TestDatabase,
): Promise<Seeded> {
  const pingUsers = Array.from({ length: 4 }, () => uniqueId("user"));
  const cartUsers = Array.from({ length: 2 }, () => uniqueId("cart"));
  const phoneless = uniqueId("nophone");
  const message = () => ({ messageId: uniqueId("m") });
  const identify = (userId: string) => ({
    type: "identify",
    userId,
    ...message(),
    traits: { first_name: "Ada" },
    context: { device: { type: "ios", token: apnsToken() } },
  });
  const track = (userId: string, event: string, properties = {}) => ({
    type: "track",
    event,
    userId,
    properties,
    ...message(),
  });
  await post(app, [
    ...[...pingUsers, ...cartUsers].map(identify),
    { type: "identify", userId: phoneless, ...message() },
    ...[...pingUsers, phoneless].map((u) => track(u, "Ping")),
    ...cartUsers.map((u) => track(u, "Product Added", { name: "Lamp" })),
  ]);
  await app.deps.planner.drain();
  await app.deps.delivery.drain();
  const tapped = await database.db
    .selectFrom("notifications")
    .select(["user_id", "notification_id"])
    .where("user_id", "=", pingUsers[0] ?? "")
    .executeTakeFirstOrThrow();
  await post(app, [
    track(tapped.user_id, "Push Notification Tapped", {
      nudge_id: tapped.notification_id,
    }),
  ]);
  await post(app, [track(tapped.user_id, "Order Completed")]);
  return { pingUsers, cartUsers };
}

async function post(app: TestApp, body: unknown[]) {
  const response = await app.request("POST", "/v1/segment", { body });
  expect(response.body.rejected).toEqual([]);
}
