import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export type SilentRelay = {
  /** Where clients connect instead of the fake: 127.0.0.1 and this port. */
  port: number;
  /**
   * Drops everything from now on, as a network path that loses every packet: the
   * connections through it, and those opened until `restore()`, pass nothing either
   * way (TLS handshakes and HTTP/2 PINGs included) and stay dead for good.
   */
  silence(): void;
  /** Relays the connections opened from now on again. */
  restore(): void;
  /** Connections from clients still open, relayed or not. */
  connectionCount(): number;
  close(): Promise<void>;
};

/**
 * A TCP relay on 127.0.0.1 in front of a fake provider. A fake that stops answering
 * still has Node answer PINGs for it; the relay takes the whole path away.
 */
export async function startSilentRelay(
  targetPort: number,
): Promise<SilentRelay> {
  let silent = false;
  const pairs = new Set<{ client: Socket; upstream: Socket | undefined }>();
  const drop = (socket: Socket) => {
    socket.unpipe();
    socket.removeAllListeners("data");
    // Read on and drop, so that the socket still sees its peer close.
    socket.on("data", () => undefined).resume();
  };
  const server = createServer((client) => {
    const pair = { client, upstream: undefined as Socket | undefined };
    pairs.add(pair);
    client.on("error", () => undefined);
    client.on("close", () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (silent) {
      drop(client);
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    pair.upstream = upstream;
    upstream.on("error", () => undefined);
    upstream.on("close", () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");

  return {
    port: (server.address() as AddressInfo).port,
    silence() {
      silent = true;
      for (const { client, upstream } of pairs) {
        drop(client);
        if (upstream !== undefined) drop(upstream);
      }
    },
    restore() {
      silent = false;
    },
    connectionCount: () => pairs.size,
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream?.destroy();
      }
      server.close();
      await once(server, "close");
    },
  };
}
