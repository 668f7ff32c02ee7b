import { describe, expect, it } from "vitest";
import { segmentSignature } from "../../src/ingest/signature.ts";
import { useTestApp } from "../support/test-app.ts";
import { uniqueId } from "../support/test-database.ts";

/*
 * Calls that are valid JSON but that Nudge could not store as they stand once failed
 * the whole request with 500. Each is now kept, repaired or rejected alone. (A NUL or
 * an unpaired surrogate: see segment-webhook.test.ts.) The default body limit lets
 * these bodies nest deep enough to break JSON.stringify.
 */

const SECRET = "unstorable-secret";

const ctx = useTestApp({ env: { SEGMENT_SHARED_SECRET: SECRET } });

function signed(body: string, signature: string) {
  return { body, headers: { "x-signature": signature } };
}

function identify(userId: string) {
  return { type: "identify", messageId: uniqueId("msg"), userId, traits: {} };
}

async function postSigned(payload: unknown[]) {
  return ctx.app.request(
    "POST",
    "/v1/segment",
    signed(
      JSON.stringify(payload),
      segmentSignature(SECRET, JSON.stringify(payload[0])),
    ),
  );
}

describe("POST /v1/segment with calls Nudge cannot store as they stand", () => {
  it("when a call nests deeper than 64 levels, then it is rejected and the request's other calls are stored", async () => {
    const [deep, good] = [uniqueId("user"), uniqueId("user")];
    const nested = (depth: number) =>
      '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
    const call = (userId: string, traits: string) =>
      `{"type":"identify","messageId":"${uniqueId("msg")}","userId":"${userId}","traits":${traits}}`;
    /** A batch of `calls`, signed over the first as Segment signs it. */
    const post = (...calls: string[]) =>
      ctx.app.request(
        "POST",
        "/v1/segment",
        signed(
          `[${calls.join(",")}]`,
          segmentSignature(SECRET, calls[0] ?? ""),
        ),
      );

    // Deep enough to break JSON.stringify and PostgreSQL's parser.
    const response = await post(call(good, "{}"), call(deep, nested(100_000)));
    expect(response.status).toBe(200);
    expect(response.body.accepted).toBe(1);
    expect(response.body.rejected).toEqual([
      {
        index: 1,
        messageId: expect.any(String),
        code: "invalid_event",
        problems: [
          {
            path: "(event)",
            message: "nests objects and arrays deeper than 64 levels",
          },
        ],
      },
    ]);
    const shallow = await post(call(good, "{}"), call(deep, nested(60)));
    expect(shallow.body).toMatchObject({ accepted: 2, rejected: [] });

    // A first call too deep for JSON.stringify cannot have been signed by Segment.
    const unsigned = await ctx.app.request(
      "POST",
      "/v1/segment",
      signed(`[${call(deep, nested(100_000))}]`, "0".repeat(40)),
    );
    expect(unsigned.status).toBe(401);
  });

  it("when a Web Push subscription sent as JSON text holds a NUL, a lone surrogate or deep nesting, then the call is stored, the first two as U+FFFD", async () => {
    const userId = uniqueId("user");
    const deep = JSON.parse('{"a":'.repeat(1000) + "1" + "}".repeat(1000));
    /** The subscription as text: JSON.stringify escapes a NUL or a lone surrogate. */
    const webPush = (auth: string, extra: unknown = null) => ({
      type: "track",
      event: "Web Push Subscribed",
      messageId: uniqueId("msg"),
      userId,
      properties: {
        subscription: JSON.stringify({
          endpoint: `https://push.example.test/${uniqueId("sub")}`,
          keys: { p256dh: "BNc", auth },
          extra,
        }),
      },
    });
    const response = await postSigned([
      webPush("a\0"),
      webPush("b\ud800"),
      webPush("c", deep),
    ]);
    expect(response.body).toEqual({
      accepted: 3,
      duplicates: 0,
      rejected: [],
      // Nested too deep to store: no device, and the sender hears so.
      warnings: [
        expect.objectContaining({
          index: 2,
          code: "web_push_subscription_invalid",
        }),
      ],
    });
    const user = await ctx.app.request("GET", `/v1/users/${userId}`, {
      admin: true,
    });
    const auths = user.body.devices.map(
      (d: { subscription: { keys: { auth: string } } }) =>
        d.subscription.keys.auth,
    );
    expect(auths.sort()).toEqual(["a\uFFFD", "b\uFFFD"]);
  });

  it("when a timestamp is before 1970 or after 2999, then the call is kept, timed when it was received", async () => {
    const userId = uniqueId("user");
    const response = await postSigned([
      { ...identify(userId), timestamp: "-000001-01-01T00:00:00Z" },
      { ...identify(userId), timestamp: -8.64e15 },
      { ...identify(userId), timestamp: "0001-01-01T00:00:00Z" },
    ]);
    expect(response.body).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
  });
});
