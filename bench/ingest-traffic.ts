import { createHmac } from "node:crypto";
import { Pool } from "undici";
import { createEventSource, type EventSource } from "./segment-events.ts";

export const WRITE_KEY = "bench-write-key";
export const SHARED_SECRET = "bench-shared-secret";

const REQUEST_TIMEOUT_MS = 10_000;

/** Counts the events the server said it accepted, so errors cannot inflate events/s. */
export type Counter = { accepted: number };

/** A keep-alive client for one server; every request has a timeout, so no loop hangs. */
export function createClient(origin: string, connections: number): Pool {
  return new Pool(origin, {
    connections,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
}

/** Both scenarios draw on one population of users, as one app's traffic would. */
export function createIngestEvents(users: number, stream: number): EventSource {
  return createEventSource({
    users,
    products: 500,
    poolSize: 20_000,
    seed: 1,
    stream,
  });
}

async function post(
  client: Pool,
  path: string,
  headers: Record<string, string>,
  body: string,
  counter: Counter,
): Promise<void> {
  const response = await client.request({
    method: "POST",
    path,
    headers,
    body,
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) {
    throw new Error(
      `HTTP ${response.statusCode} from ${path}: ${text.slice(0, 200)}`,
    );
  }
  const report = JSON.parse(text) as { accepted?: unknown };
  if (typeof report.accepted === "number") counter.accepted += report.accepted;
}

/** `/v1/batch` as `@segment/analytics-node` sends it: Basic auth with the write key. */
export function batchSender(
  client: Pool,
  events: EventSource,
  batchSize: number,
  counter: Counter,
): () => Promise<void> {
  const headers = {
    "content-type": "application/json",
    authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}`,
  };
  return () => {
    const calls = Array.from({ length: batchSize }, () => events.next());
    const body = `{"batch":[${calls.join(",")}],"writeKey":"${WRITE_KEY}","sentAt":"${new Date().toISOString()}"}`;
    return post(client, "/v1/batch", headers, body, counter);
  };
}

/** One call per request to `/v1/segment`, signed like Segment's webhook destination. */
export function webhookSender(
  client: Pool,
  events: EventSource,
  counter: Counter,
): () => Promise<void> {
  return () => {
    const body = events.next();
    const headers = {
      "content-type": "application/json",
      "user-agent": "Segment.io/1.0",
      "x-signature": createHmac("sha1", SHARED_SECRET)
        .update(body)
        .digest("hex"),
    };
    return post(client, "/v1/segment", headers, body, counter);
  };
}
