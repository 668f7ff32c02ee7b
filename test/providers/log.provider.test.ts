import { describe, expect, it } from "vitest";
import { createLogProvider } from "../../src/providers/log.provider.ts";
import type { Push } from "../../src/providers/provider.ts";

const push: Push = {
  notificationId: "0b6d3f52-6f0e-4c1e-9a43-52a1f3c2d001",
  userId: "ada",
  deviceId: "d1",
  platform: "apns",
  token: "token-1",
  subscription: null,
  title: "Price drop",
  body: "The lamp you saved\nis now €39",
  deepLink: "shop://product/1",
  image: undefined,
  sound: undefined,
  badge: undefined,
  data: {},
  threadId: "price-drop",
  expiresAt: undefined,
};

describe("log provider", () => {
  it("when a push is sent, then it writes one readable line and reports it sent", async () => {
    const lines: string[] = [];
    const provider = createLogProvider({ write: (line) => lines.push(line) });

    const outcome = await provider.send(push);

    expect(outcome).toEqual({ kind: "sent" });
    expect(provider.name).toBe("log");
    expect(lines).toEqual([
      'push apns → user ada (device d1): "Price drop" — The lamp you saved is now €39  shop://product/1  [nudge_id 0b6d3f52-6f0e-4c1e-9a43-52a1f3c2d001]',
    ]);
    await provider.close();
  });

  it("when a push has no deep link, then the line leaves it out", async () => {
    const lines: string[] = [];
    const provider = createLogProvider({ write: (line) => lines.push(line) });

    await provider.send({ ...push, deepLink: undefined });

    expect(lines[0]).toBe(
      'push apns → user ada (device d1): "Price drop" — The lamp you saved is now €39  [nudge_id 0b6d3f52-6f0e-4c1e-9a43-52a1f3c2d001]',
    );
  });

  it("when a push has actions or is silent, then the line shows its buttons, or its data", async () => {
    const lines: string[] = [];
    const provider = createLogProvider({ write: (line) => lines.push(line) });

    await provider.send({
      ...push,
      actions: [
        { id: "buy", title: "Buy now" },
        { id: "later", title: "Later" },
      ],
    });
    await provider.send({
      ...push,
      silent: true,
      data: { refresh: "wishlist" },
    });

    expect(lines).toEqual([
      'push apns → user ada (device d1): "Price drop" — The lamp you saved is now €39  shop://product/1  [Buy now | Later]  [nudge_id 0b6d3f52-6f0e-4c1e-9a43-52a1f3c2d001]',
      'push apns → user ada (device d1): silent {"refresh":"wishlist"}  [nudge_id 0b6d3f52-6f0e-4c1e-9a43-52a1f3c2d001]',
    ]);
  });
});
