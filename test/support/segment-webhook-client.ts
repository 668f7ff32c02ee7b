import { randomUUID } from "node:crypto";
import { segmentSignature } from "../../src/ingest/signature.ts";

/*
 * Requests built as Segment's two webhook destinations build them, per their public
 * documentation and source: the Actions webhook sends one event, or a bare JSON array
 * when batching is on, by the mapping's method (POST, PUT or PATCH) with the mapping's
 * custom headers, and signs `JSON.stringify` of the event, for a batch of its first
 * element only; the classic webhook POSTs one event signed over its body, with Basic
 * auth when its URL holds user info.
 */

export type WebhookRequest = {
  method: string;
  headers: Record<string, string>;
  body: string;
};

/** A request of the Webhooks (Actions) destination carrying `data`. */
export function actionsWebhookRequest(
  data: object | readonly object[],
  options: {
    secret?: string;
    method?: "POST" | "PUT" | "PATCH";
    /** The mapping's custom headers, e.g. an Authorization. */
    headers?: Record<string, string>;
  } = {},
): WebhookRequest {
  const signed = Array.isArray(data) ? data[0] : data;
  return {
    method: options.method ?? "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "Segment (Actions)",
      ...(options.secret === undefined
        ? {}
        : {
            "x-signature": segmentSignature(
              options.secret,
              JSON.stringify(signed),
            ),
          }),
      ...options.headers,
    },
    body: JSON.stringify(data),
  };
}

/** A request of the classic Webhooks destination to `url`, whose user info becomes Basic auth. */
export function classicWebhookRequest(
  event: object,
  url: string,
  secret?: string,
): WebhookRequest & { url: string } {
  const parsed = new URL(url);
  const userInfo = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = "";
  parsed.password = "";
  const body = JSON.stringify(event);
  return {
    url: parsed.toString(),
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "Segment.io/1.0",
      ...(userInfo === ":"
        ? {}
        : {
            authorization: `Basic ${Buffer.from(userInfo).toString("base64")}`,
          }),
      ...(secret === undefined
        ? {}
        : { "x-signature": segmentSignature(secret, body) }),
    },
    body,
  };
}

/** Sends `request` to `url`; the answer's status and JSON body. */
export async function sendWebhook(
  url: string,
  request: WebhookRequest,
): Promise<{ status: number; body: any }> {
  const response = await fetch(url, request);
  const text = await response.text();
  return {
    status: response.status,
    body: text === "" ? undefined : JSON.parse(text),
  };
}

/**
 * `count` calls shaped and sized as Segment delivers them from analytics.js (track
 * calls with a page context) and from mobile SDKs (identify calls with app, device and
 * push token): about 1.3 KB each, as Segment's own webhook batches carry.
 */
export function realisticCalls(count: number, prefix: string): object[] {
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0 ? webTrack(prefix, i) : mobileIdentify(prefix, i),
  );
}

function common(prefix: string, i: number) {
  const at = new Date(Date.UTC(2026, 0, 1, 12, 0, i % 60)).toISOString();
  return {
    messageId: `${prefix}-${String(i)}`,
    userId: `${prefix}-user-${String(i % 500)}`,
    anonymousId: randomUUID(),
    originalTimestamp: at,
    sentAt: at,
    receivedAt: at,
    timestamp: at,
    integrations: {},
    version: 2,
  };
}

function webTrack(prefix: string, i: number): object {
  const path = `/products/brass-desk-lamp-${String(i % 50)}`;
  return {
    ...common(prefix, i),
    type: "track",
    event: "Product Viewed",
    channel: "client",
    properties: {
      product_id: `p-${String(i % 50)}`,
      sku: `LAMP-${String(i % 50)}-BR`,
      category: "Lighting",
      name: "Brass Desk Lamp",
      brand: "Lumen & Co",
      variant: "Brass",
      price: 89.0,
      currency: "EUR",
      url: `https://shop.example.com${path}`,
      image_url: `https://cdn.example.com/img${path}.jpg`,
    },
    context: {
      ip: "203.0.113.42",
      locale: "de-DE",
      timezone: "Europe/Berlin",
      library: { name: "analytics.js", version: "next-1.72.0" },
      page: {
        path,
        referrer: "https://www.google.com/",
        search: "?utm_source=newsletter&utm_medium=email",
        title: "Brass Desk Lamp – Lumen & Co – Example Shop",
        url: `https://shop.example.com${path}?utm_source=newsletter&utm_medium=email`,
      },
      campaign: { source: "newsletter", medium: "email", name: "spring" },
      userAgent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
      userAgentData: {
        brands: [
          { brand: "Chromium", version: "126" },
          { brand: "Google Chrome", version: "126" },
        ],
        mobile: false,
        platform: "macOS",
      },
    },
  };
}

function mobileIdentify(prefix: string, i: number): object {
  return {
    ...common(prefix, i),
    type: "identify",
    channel: "mobile",
    traits: {
      first_name: "Ada",
      last_name: "Lovelace",
      email: `${prefix}-${String(i)}@example.com`,
      plan: "pro",
      created_at: "2025-11-02T08:30:00.000Z",
    },
    context: {
      app: {
        name: "Example Shop",
        namespace: "com.example.shop",
        version: "4.12.0",
        build: "41200",
      },
      device: {
        id: randomUUID(),
        manufacturer: "Apple",
        model: "iPhone15,2",
        name: "iPhone",
        type: "ios",
        token: "ab".repeat(32),
        adTrackingEnabled: false,
      },
      library: { name: "analytics-swift", version: "1.5.11" },
      locale: "de-DE",
      timezone: "Europe/Berlin",
      network: { wifi: true, cellular: false, carrier: "Telekom.de" },
      os: { name: "iOS", version: "17.5.1" },
      screen: { width: 393, height: 852, density: 3 },
      ip: "198.51.100.23",
      userAgent: "Example%20Shop/41200 CFNetwork/1496.0.7 Darwin/23.5.0",
    },
  };
}
