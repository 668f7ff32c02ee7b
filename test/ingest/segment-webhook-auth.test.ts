import { describe, expect, it } from "vitest";
import { useTestApp } from "../support/test-app.ts";
import { uniqueId } from "../support/test-database.ts";
import {
  actionsWebhookRequest,
  classicWebhookRequest,
  realisticCalls,
  sendWebhook,
} from "../support/segment-webhook-client.ts";

const SECRET = "webhook-secret";
const TOKEN = "webhook-token-0123456789";

// The default MAX_BODY_BYTES: a batch as large as Segment sends must fit it.
const ctx = useTestApp({
  env: { SEGMENT_SHARED_SECRET: SECRET, SEGMENT_WEBHOOK_TOKEN: TOKEN },
});

const bearer = { authorization: `Bearer ${TOKEN}` };

function identify(userId: string, traits: Record<string, unknown> = {}) {
  return { type: "identify", messageId: uniqueId("msg"), userId, traits };
}

const url = () => `${ctx.app.baseUrl}/v1/segment`;

async function storedMessageIds(ids: readonly string[]): Promise<string[]> {
  const rows = await ctx.database.db
    .selectFrom("events")
    .select("message_id")
    .where("message_id", "in", ids)
    .execute();
  return rows.map((row) => row.message_id);
}

async function userStatus(userId: string): Promise<number> {
  return (await ctx.app.request("GET", `/v1/users/${userId}`, { admin: true }))
    .status;
}

describe("/v1/segment as the Webhooks (Actions) destination sends", () => {
  it.each(["POST", "PUT", "PATCH"] as const)(
    "when one event comes by %s with the token header, then it is stored",
    async (method) => {
      const userId = uniqueId("user");
      const request = actionsWebhookRequest(identify(userId, { plan: "pro" }), {
        secret: SECRET,
        method,
        headers: bearer,
      });
      const answer = await sendWebhook(url(), request);
      expect(answer).toEqual({
        status: 200,
        body: { accepted: 1, duplicates: 0, rejected: [] },
      });
      expect(await userStatus(userId)).toBe(200);
    },
  );

  it("when a batch of 4,000 events of realistic size comes, then every one is stored, well within Segment's 5 s", async () => {
    const prefix = uniqueId("big");
    const calls = realisticCalls(4_000, prefix);
    const request = actionsWebhookRequest(calls, {
      secret: SECRET,
      method: "PATCH",
      headers: bearer,
    });
    expect(request.body.length).toBeGreaterThan(4_000 * 1_200);
    const started = performance.now();
    const answer = await sendWebhook(url(), request);
    const seconds = (performance.now() - started) / 1000;
    expect(answer.body).toEqual({
      accepted: 4_000,
      duplicates: 0,
      rejected: [],
    });
    console.log(
      `4,000 events (${(request.body.length / 2 ** 20).toFixed(1)} MiB) answered in ${seconds.toFixed(2)} s`,
    );
    expect(seconds).toBeLessThan(5);
    const { count } = await ctx.database.db
      .selectFrom("events")
      .select((eb) => eb.fn.countAll<string>().as("count"))
      .where("message_id", "like", `${prefix}-%`)
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(4_000);
  });

  it("when the token is missing or wrong, then 401 says to set SEGMENT_WEBHOOK_TOKEN and nothing is stored", async () => {
    const userId = uniqueId("user");
    const event = identify(userId);
    const missing = await sendWebhook(
      url(),
      actionsWebhookRequest(event, { secret: SECRET }),
    );
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe("missing_webhook_token");
    expect(missing.body.error.message).toContain("SEGMENT_WEBHOOK_TOKEN");
    for (const authorization of [
      `Bearer ${TOKEN}x`,
      "Bearer nope",
      `Basic ${Buffer.from("nudge:nope").toString("base64")}`,
    ]) {
      const wrong = await sendWebhook(
        url(),
        actionsWebhookRequest(event, {
          secret: SECRET,
          headers: { authorization },
        }),
      );
      expect(wrong.status, authorization).toBe(401);
      expect(wrong.body.error.code).toBe("invalid_webhook_token");
    }
    expect(await userStatus(userId)).toBe(404);
  });

  it("when the token is right but the signature is wrong, then the signature still refuses it", async () => {
    const request = actionsWebhookRequest(identify(uniqueId("user")), {
      secret: "another-secret",
      headers: bearer,
    });
    const answer = await sendWebhook(url(), request);
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("invalid_signature");
  });

  it("when someone appends a forged sale and a forged delete to a captured signed batch, then 401 and nothing of it is stored", async () => {
    const victim = uniqueId("user");
    const captured = identify(victim, { plan: "pro" });
    const original = actionsWebhookRequest([captured], {
      secret: SECRET,
      headers: bearer,
    });
    expect((await sendWebhook(url(), original)).status).toBe(200);

    const forgedSale = {
      type: "track",
      event: "Product Updated",
      messageId: uniqueId("forged"),
      userId: uniqueId("attacker"),
      properties: { product_id: "p-1", on_sale: true, price: 1 },
    };
    const forgedDelete = {
      type: "delete",
      messageId: uniqueId("forged"),
      userId: victim,
    };
    // The captured signature covers the first element, which is unchanged.
    const forged = {
      ...original,
      headers: { ...original.headers },
      body: JSON.stringify([captured, forgedSale, forgedDelete]),
    };
    delete forged.headers.authorization;
    const answer = await sendWebhook(url(), forged);
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("missing_webhook_token");
    expect(
      await storedMessageIds([forgedSale.messageId, forgedDelete.messageId]),
    ).toEqual([]);
    expect(await userStatus(victim)).toBe(200);
  });
});

describe("/v1/segment as the classic Webhooks destination sends", () => {
  it.each([
    ["the token as password, with any user name", `nudge:${TOKEN}`],
    ["the token as user name, with no password", `${TOKEN}:`],
  ])("when its URL holds %s, then the event is stored", async (_, userInfo) => {
    const userId = uniqueId("user");
    const { host } = new URL(ctx.app.baseUrl);
    const request = classicWebhookRequest(
      identify(userId),
      `http://${userInfo}@${host}/v1/segment`,
      SECRET,
    );
    expect(request.headers.authorization).toMatch(/^Basic /);
    const answer = await sendWebhook(request.url, request);
    expect(answer.status).toBe(200);
    expect(await userStatus(userId)).toBe(200);
  });

  it("when its URL holds a wrong token, then 401 invalid_webhook_token", async () => {
    const { host } = new URL(ctx.app.baseUrl);
    const request = classicWebhookRequest(
      identify(uniqueId("user")),
      `http://nudge:not-the-token@${host}/v1/segment`,
      SECRET,
    );
    const answer = await sendWebhook(request.url, request);
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("invalid_webhook_token");
  });
});
