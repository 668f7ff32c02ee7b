import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Express } from "express";

export type HttpServer = {
  server: Server;
  /** The bound port (useful when listening on port 0). */
  port: number;
  /** Stops accepting connections and waits for in-flight requests to finish. */
  stop(): Promise<void>;
};

/** Starts listening; keep-alive connections are closed once idle when stopping. */
export async function startHttpServer(
  app: Express,
  port: number,
  host: string,
): Promise<HttpServer> {
  const server = app.listen(port, host);
  await once(server, "listening");
  // Segment and load balancers reuse connections; keep them longer than typical proxies do.
  server.keepAliveTimeout = 65_000;
  return {
    server,
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
