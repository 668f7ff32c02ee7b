import { MAX_ID_LENGTH } from "../ingest/input-limits.ts";
import { notificationsQuery, waitingQuery } from "./notifications.routes.ts";
import type { RouteDoc } from "./route-doc.ts";
import { RULE_ROUTES } from "./rule-route-docs.ts";
import { SHORT_PATH, TRACKING_CALLS } from "./segment.routes.ts";
import { statsQuery } from "./stats.routes.ts";
import { deviceBody, preferencesBody } from "./users.routes.ts";

/*
 * Every route of the app, for the OpenAPI document (openapi.ts). Bodies and queries are
 * the very zod schemas the routes validate with, so the document cannot drift from them.
 */

const WEBHOOK_BODY = {
  description:
    "One Segment event, or a JSON array of up to 4,000 events (Webhooks Actions batching), up to MAX_BODY_BYTES. Read raw: X-Signature is computed over the bytes.",
};
const INGEST_RESPONSES = {
  200: "{accepted, duplicates, rejected: [{index, messageId, code, problems}], warnings?}",
  400: "invalid_json, invalid_body, or invalid_events when no event was accepted",
  413: "payload_too_large",
  503: "the database is unavailable (Retry-After)",
};
const BATCH_PATHS = ["/v1/batch", `/v1/b`];

function trackingRoutes(): RouteDoc[] {
  const calls = TRACKING_CALLS.flatMap((type) =>
    [`/v1/${type}`, `/v1/${SHORT_PATH[type]}`].map((path) => ({
      path,
      summary: `Tracking API: one ${type} call`,
      body: `One ${type} call in Segment's tracking-API format; at most 32 KB.`,
    })),
  );
  const batches = BATCH_PATHS.map((path) => ({
    path,
    summary: "Tracking API: a batch of calls",
    body: '{"batch": [...calls], "context"?: {...}}; at most 500 KB, each call at most 32 KB.',
  }));
  return [...batches, ...calls].flatMap(({ path, summary, body }) => [
    {
      method: "post",
      path,
      summary,
      auth: "writeKey",
      request: { description: body },
      responses: INGEST_RESPONSES,
    },
    {
      method: "options",
      path,
      summary: "CORS preflight for analytics.js",
      auth: "none",
      responses: { 204: "allowed from any origin" },
    },
  ]);
}

/** Every route of the app. A test compares it with express's own routes. */
export const ROUTES: readonly RouteDoc[] = [
  ...(["post", "put", "patch"] as const).map((method): RouteDoc => ({
    method,
    path: "/v1/segment",
    summary: "Segment webhook destination",
    auth: "webhook",
    request: WEBHOOK_BODY,
    responses: {
      ...INGEST_RESPONSES,
      401: "missing or wrong token or signature",
    },
  })),
  ...trackingRoutes(),
  {
    method: "get",
    path: "/v1/users/:userId",
    summary: "A profile with its devices, preferences and recent notifications",
    auth: "admin",
    responses: { 200: "the profile", 404: "user_not_found" },
  },
  {
    method: "put",
    path: "/v1/users/:userId/preferences",
    summary: "Set the global opt-out and per-category choices",
    auth: "admin",
    request: preferencesBody,
    responses: {
      200: "the effective preferences",
      400: "invalid_body, unknown_category",
    },
  },
  {
    method: "post",
    path: "/v1/users/:userId/devices",
    summary: "Register a device",
    auth: "admin",
    request: deviceBody,
    responses: { 201: "the stored device, with deviceId", 400: "invalid_body" },
  },
  {
    method: "delete",
    path: "/v1/users/:userId/devices/:deviceId",
    summary: "Remove one device",
    auth: "admin",
    responses: { 204: "removed", 404: "device_not_found" },
  },
  {
    method: "delete",
    path: "/v1/users/:userId",
    summary: "Erase a user and everything about them",
    auth: "admin",
    responses: { 204: "erased" },
  },
  ...RULE_ROUTES,
  {
    method: "get",
    path: "/v1/notifications",
    summary: "Notifications with their deliveries and history",
    auth: "admin",
    query: notificationsQuery,
    responses: { 200: "{notifications, nextCursor}", 400: "invalid_query" },
  },
  {
    method: "get",
    path: "/v1/notifications/waiting",
    summary:
      "What waits now: pending notifications of every rule (or one), grouped by what holds them",
    auth: "admin",
    query: waitingQuery,
    responses: {
      200: "{now, waiting: [{ruleId, deferredBy, retrying, count, nextDueAt, lastDueAt}]}",
      400: "invalid_query",
    },
  },
  {
    method: "get",
    path: "/v1/stats",
    summary:
      "The funnel of a rule or of all rules, by a grouping and optionally by rule",
    auth: "admin",
    query: statsQuery,
    responses: {
      200: "counts and rates per group (by rule, each group with its ruleId); by variant of one rule, each variant's lift and pValue, the holdout's baseline, and winner (rules with autoWinner: the test's outcome, null while it runs); by timing, optimized's open-rate lift and pValue over control; in every group, actions: taps per action button",
      400: "invalid_query",
    },
  },
  {
    method: "get",
    path: "/livez",
    summary: "Liveness probe",
    auth: "none",
    responses: { 200: '{"status": "ok"}' },
  },
  {
    method: "get",
    path: "/readyz",
    summary: "Readiness probe: database up and migrated",
    auth: "none",
    responses: { 200: '{"status": "ok"}', 503: "not ready (Retry-After)" },
  },
  {
    method: "get",
    path: "/health",
    summary: "Database check with the rules version in force",
    auth: "none",
    responses: {
      200: '{"status": "ok", rulesVersion}',
      503: "the database is unavailable (Retry-After)",
    },
  },
  {
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics (text format)",
    auth: "none",
    responses: { 200: "the metrics" },
  },
  {
    method: "get",
    path: "/openapi.json",
    summary: "This document",
    auth: "none",
    responses: { 200: "OpenAPI 3.1" },
  },
  {
    method: "get",
    path: "/",
    summary:
      "The dashboard page (HTML); it reads the admin API with the token it asks for",
    auth: "none",
    responses: { 200: "the page" },
  },
  {
    method: "get",
    path: "/favicon.ico",
    summary: "The dashboard's icon (SVG)",
    auth: "none",
    responses: { 200: "the icon" },
  },
  {
    method: "get",
    path: "/dashboard/:file",
    summary: "The dashboard's static files",
    auth: "none",
    responses: { 200: "the file", 404: "not_found" },
  },
];

export const PARAMS: Record<
  string,
  { description: string; maxLength?: number }
> = {
  userId: {
    description:
      "A userId or anonymousId; a merged id resolves to its profile.",
    maxLength: MAX_ID_LENGTH,
  },
  deviceId: { description: "The deviceId the profile lists." },
  id: { description: "A rule's id." },
  matchId: {
    description: "A rule match's id, as a trigger answers it.",
  },
  file: { description: "A file of the dashboard." },
};
