import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/nudge-process.ts";
import { useDeliveryApp } from "../delivery/delivery-fixture.ts";

type Call = {
  event: string;
  userId: string;
  messageId: string;
  properties: any;
};

// A local stand-in for Segment's tracking API, started before the app.
const received: { writeKey: string; calls: Call[] }[] = [];
let receiver: Server;
const env: Record<string, string> = {
  SEGMENT_OUTBOUND_WRITE_KEY: "outbound-key",
};
beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const auth = Buffer.from(
        (req.headers.authorization ?? "").replace(/^Basic /, ""),
        "base64",
      ).toString();
      received.push({
        writeKey: auth.replace(/:$/, ""),
        calls: (JSON.parse(body) as { batch: Call[] }).batch,
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) =>
    receiver.listen(0, "127.0.0.1", resolve),
  );
  env.SEGMENT_OUTBOUND_HOST = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(() => {
  receiver.close();
});

const ctx = useDeliveryApp({ env });

const calls = () => received.flatMap((r) => r.calls);

describe("reporting outcomes back to Segment", () => {
  it("when a notification is sent or fails, then Segment gets Push Notification Sent or Bounced with the write key", async () => {
    const sent = await ctx.userWith("ios");
    const failing = await ctx.userWith("android");
    ctx.fakes.fcm.failToken(failing.devices[0]?.token ?? "", "UNREGISTERED");
    const okId = (await ctx.ping(sent.userId)).notification_id;
    const failedId = (await ctx.ping(failing.userId)).notification_id;
    await ctx.deliver();

    await waitFor(() => calls().length >= 2, 10_000);
    expect(received.every((r) => r.writeKey === "outbound-key")).toBe(true);
    expect(calls()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          event: "Push Notification Sent",
          userId: sent.userId,
          messageId: `nudge-sent-${okId}`,
          properties: {
            nudge_id: okId,
            rule_id: "ping",
            platforms: ["apns"],
          },
        }),
        expect.objectContaining({
          event: "Push Notification Bounced",
          userId: failing.userId,
          messageId: `nudge-failed-${failedId}`,
          properties: expect.objectContaining({
            nudge_id: failedId,
            reason: "invalid_token",
          }),
        }),
      ]),
    );
  });
});
