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

/** Products in the catalogue the calls view and save (`productId(0…PRODUCTS-1)`). */
export const PRODUCTS = 500;

/** Both scenarios draw on one population of users, as one app's traffic would. */
export function createIngestEvents(users: number, stream: number): EventSource {
  return createEventSource({
    users,
    products: PRODUCTS,
    poolSize: 20_000,
    seed: 1,
    stream,
  });
}

/** Resolves to the events the server said it accepted; rejects on any answer but 200. */
async function post(
  client: Pool,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<number> {
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
  return typeof report.accepted === "number" ? report.accepted : 0;
}

const BATCH_HEADERS = {
  "content-type": "application/json",
  authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}`,
};

/**
 * Posts calls (each a JSON object's text) to `/v1/batch` as `@segment/analytics-node`
 * sends them: Basic auth with the write key. Resolves to the events accepted.
 */
export function postBatch(
  client: Pool,
  calls: readonly string[],
): Promise<number> {
  const body = `{"batch":[${calls.join(",")}],"writeKey":"${WRITE_KEY}","sentAt":"${new Date().toISOString()}"}`;
  return post(client, "/v1/batch", BATCH_HEADERS, body);
}

/**
 * Posts a webhook body to `/v1/segment`, signed like Segment's webhook destination: an
 * HMAC-SHA1 of `signed` with the shared secret. Resolves to the events accepted.
 */
function postSigned(client: Pool, body: string, signed: string) {
  const headers = {
    "content-type": "application/json",
    "user-agent": "Segment.io/1.0",
    "x-signature": createHmac("sha1", SHARED_SECRET)
      .update(signed)
      .digest("hex"),
  };
  return post(client, "/v1/segment", headers, body);
}

/** Posts one call to `/v1/segment`; resolves to the events accepted. */
export function postWebhook(client: Pool, call: string): Promise<number> {
  return postSigned(client, call, call);
}

/**
 * Posts calls to `/v1/segment` as one array, as Webhooks (Actions) batching does:
 * it signs `JSON.stringify` of the first call only. Resolves to the events accepted.
 */
export function postWebhookArray(
  client: Pool,
  calls: readonly string[],
): Promise<number> {
  const signed = JSON.stringify(JSON.parse(calls[0] ?? "null"));
  return postSigned(client, `[${calls.join(",")}]`, signed);
}

/** `/v1/batch` requests of `batchSize` calls each. */
export function batchSender(
  client: Pool,
  events: EventSource,
  batchSize: number,
  counter: Counter,
): () => Promise<void> {
  return async () => {
    const calls = Array.from({ length: batchSize }, () => events.next());
    // Not `counter.accepted += await …`: that reads the count before the wait, and
    // concurrent senders then overwrite each other's additions.
    const accepted = await postBatch(client, calls);
    counter.accepted += accepted;
  };
}

/** One call per request to `/v1/segment`. */
export function webhookSender(
  client: Pool,
  events: EventSource,
  counter: Counter,
): () => Promise<void> {
  return async () => {
    const accepted = await postWebhook(client, events.next());
    counter.accepted += accepted;
  };
}
