import fc from "fast-check";
import { exampleRules } from "../support/test-app.ts";
import { json, text, usually } from "./json-arbitraries.ts";
import {
  call,
  pushSubscription,
  USER_POOL,
  userId,
} from "./segment-arbitraries.ts";

/*
 * Admin API requests: every route, with ids that are odd, over-long or not
 * percent-encoded UTF-8, queries of any keys and values, and bodies shaped like the
 * route's or like anything.
 */

export type AdminRequest = {
  method: string;
  path: string;
  body: string | undefined;
};

/**
 * A text percent-encoded as a client would; an unpaired surrogate has no UTF-8, so a
 * client sends U+FFFD (its encoded bytes come as their own case below).
 */
const encode = (value: unknown) =>
  encodeURIComponent(
    (typeof value === "string" ? value : JSON.stringify(value)).toWellFormed(),
  );

/** A path segment: an id encoded as a client would, or bytes no client should send. */
const segment = fc.oneof(
  { weight: 6, arbitrary: userId.map(encode) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("%ZZ", "%ED%A0%80", "%00", "%C0%AF", "%", ".."),
  },
);

const ruleId = fc.oneof(
  fc.constantFrom("wishlist-on-sale", "cart-abandoned", "fz-rule"),
  segment,
);

const QUERY_KEYS = [
  "userId",
  "ruleId",
  "status",
  "limit",
  "cursor",
  "from",
  "to",
  "groupBy",
];

const query = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...QUERY_KEYS), text),
      fc.oneof(
        fc.constantFrom(...USER_POOL, "sent", "day", "variant", "2026-12-01"),
        text,
        fc.constantFrom("%ZZ", "%00", "1e999", "-1", "eyJ9"),
      ),
    ),
    { maxLength: 5 },
  )
  .map((pairs) =>
    pairs
      .map(([k, v]) => `${encode(k)}=${/%/.test(v) ? v : encode(v)}`)
      .join("&"),
  );

const preferences = fc.record(
  {
    optOut: usually(fc.boolean()),
    categories: usually(
      fc.dictionary(
        fc.oneof(fc.constantFrom("promotions", "orders", "__proto__"), text),
        usually(fc.boolean(), fc.constantFrom("in", "out")),
      ),
    ),
  },
  { requiredKeys: [] },
);

const deviceOptions = {
  locale: usually(fc.constantFrom("de-AT", "en"), text),
  status: usually(fc.constantFrom("active", "unsubscribed", "disabled")),
};

const device = fc.oneof(
  fc.record(
    {
      platform: usually(fc.constantFrom("apns", "fcm")),
      token: usually(
        fc
          .uint8Array({ minLength: 32, maxLength: 32 })
          .map((bytes) => Buffer.from(bytes).toString("hex")),
        text,
      ),
      ...deviceOptions,
    },
    { requiredKeys: ["platform", "token"] },
  ),
  fc.record(
    {
      platform: usually(fc.constant("webpush")),
      subscription: usually(pushSubscription),
      ...deviceOptions,
    },
    { requiredKeys: ["platform", "subscription"] },
  ),
);

const rules = (exampleRules as { rules: Record<string, unknown>[] }).rules;

/** An example rule with a field set to anything, or to something that may be valid. */
const rule = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...rules),
      fc.constantFrom("trigger", "message", "audience", "delivery", "id"),
      json,
    )
    .map(([base, field, value]) => ({ ...base, [field]: value })),
  fc
    .tuple(
      fc.constantFrom(...rules),
      text,
      fc.constantFrom(
        'event = "Fuzz"',
        'type = "identify"',
        "properties.x = 1",
      ),
    )
    // Without its id, which must otherwise be the path's.
    .map(([{ id: _id, ...base }, title, trigger]) => ({
      ...base,
      trigger,
      message: { ...(base.message as object), title },
    })),
);

const body = (shaped: fc.Arbitrary<unknown>) =>
  fc
    .oneof({ weight: 4, arbitrary: shaped }, { weight: 1, arbitrary: json })
    .map((value) => JSON.stringify(value));

function route(
  method: string,
  path: fc.Arbitrary<string>,
  withBody?: fc.Arbitrary<string>,
): fc.Arbitrary<AdminRequest> {
  return fc
    .tuple(path, withBody ?? fc.constant(undefined))
    .map(([p, b]) => ({ method, path: p, body: b }));
}

export const adminRequest: fc.Arbitrary<AdminRequest> = fc.oneof(
  route(
    "GET",
    segment.map((id) => `/v1/users/${id}`),
  ),
  route(
    "PUT",
    segment.map((id) => `/v1/users/${id}/preferences`),
    body(preferences),
  ),
  route(
    "POST",
    segment.map((id) => `/v1/users/${id}/devices`),
    body(device),
  ),
  route(
    "DELETE",
    fc
      .tuple(segment, segment)
      .map(([id, deviceId]) => `/v1/users/${id}/devices/${deviceId}`),
  ),
  route(
    "DELETE",
    segment.map((id) => `/v1/users/${id}`),
  ),
  route(
    "GET",
    query.map((q) => `/v1/notifications?${q}`),
  ),
  route(
    "GET",
    query.map((q) => `/v1/stats?${q}`),
  ),
  route(
    "GET",
    ruleId.map((id) => `/v1/rules/${id}`),
  ),
  route(
    "PUT",
    ruleId.map((id) => `/v1/rules/${id}`),
    body(rule),
  ),
  route(
    "POST",
    fc.constant("/v1/rules/validate"),
    body(
      fc.oneof(
        rule.map((r) => ({ rule: r })),
        fc.constant(exampleRules),
      ),
    ),
  ),
  route(
    "POST",
    ruleId.map((id) => `/v1/rules/${id}/preview`),
    body(fc.record({ event: call, limit: fc.oneof(fc.integer(), json) })),
  ),
);
