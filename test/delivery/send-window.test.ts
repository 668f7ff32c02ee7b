import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import type { PushProvider } from "../../src/providers/provider.ts";
import { useTestApp } from "../support/test-app.ts";
import { uniqueId } from "../support/test-database.ts";
import { pingRules } from "./delivery-fixture.ts";

/*
 * A crash repeats what providers accepted and Nudge had not recorded. The send window
 * holds that to DELIVERY_BATCH_SIZE per process, however fast the provider and
 * however large its queue: each send here counts what was accepted and not yet
 * recorded as sent at that moment.
 */
const WINDOW = 20;
const USERS = 200;

let accepted = 0;
let mostUnrecorded = 0;
let recordedOf: () => Promise<number> = () => Promise.resolve(0);

const countingProvider: PushProvider = {
  name: "log",
  async send() {
    accepted++;
    mostUnrecorded = Math.max(mostUnrecorded, accepted - (await recordedOf()));
    return { kind: "sent" };
  },
  close: () => Promise.resolve(),
};

const ctx = useTestApp({
  rules: pingRules,
  env: { DELIVERY_BATCH_SIZE: String(WINDOW) },
  providers: {
    apns: countingProvider,
    fcm: countingProvider,
    webpush: countingProvider,
  },
});

describe("the send window", () => {
  it("when a fan-out is sent through a provider with room for ten times the window, then never more than the window is sent and unrecorded", async () => {
    const { app } = ctx;
    const userIds = Array.from({ length: USERS }, () => uniqueId("user"));
    recordedOf = async () => {
      const { rows } = await sql<{ sent: number }>`
        select count(*)::int as sent from notifications
        where status = 'sent' and user_id = any(${userIds})`.execute(
        app.deps.db,
      );
      return rows[0]?.sent ?? 0;
    };
    const response = await app.request("POST", "/v1/segment", {
      body: userIds.flatMap((userId, i) => [
        {
          type: "identify",
          userId,
          messageId: uniqueId("msg"),
          context: {
            device: { type: "android", token: `fcm-token-${String(i)}` },
          },
        },
        {
          type: "track",
          event: "Ping",
          userId,
          messageId: uniqueId("msg"),
          properties: { title: "Ping", n: i },
        },
      ]),
    });
    expect(response.status).toBe(200);
    await app.deps.planner.drain();
    await app.deps.delivery.drain();

    expect(accepted).toBe(USERS);
    expect(await recordedOf()).toBe(USERS);
    expect(mostUnrecorded).toBeGreaterThan(1);
    expect(mostUnrecorded).toBeLessThanOrEqual(WINDOW);
  });
});
