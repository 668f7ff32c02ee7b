import {
  Router,
  type NextFunction,
  type Request,
  type Response,
} from "express";
import type { Deps } from "../deps.ts";
import { AppError, ErrorCode } from "../errors.ts";
import type { IngestReport } from "../ingest/ingest.service.ts";
import { CALL_TYPES } from "../segment-event.ts";
import { secretsEqual, writeKeyOf } from "./auth.middleware.ts";
import {
  rawBodyUpTo,
  splitOversizedCalls,
  TRACKING_REQUEST_MAX_BYTES,
  withOversizedCalls,
} from "./intake-limits.ts";
import {
  createSegmentIngest,
  invalidBody,
  isObject,
  parseJsonBody,
  sendReport,
  type IngestCalls,
} from "./segment-intake.ts";
import { requireWebhookToken, verifySignature } from "./webhook-auth.ts";

/** The call types the tracking API takes, each at its own path: a deletion comes only by webhook. */
export const TRACKING_CALLS = CALL_TYPES.filter((type) => type !== "delete");

type TrackingCall = (typeof TRACKING_CALLS)[number];

/** analytics.js (analytics-next) posts to one-letter paths: /v1/t, /v1/i, …, /v1/b. */
export const SHORT_PATH = {
  identify: "i",
  track: "t",
  page: "p",
  screen: "s",
  group: "g",
  alias: "a",
} as const;

/**
 * Segment-facing intake: the webhook destination (`/v1/segment`) and the tracking API
 * (`/v1/batch`, `/v1/track`, …) that Segment's libraries speak with a custom host, including
 * the short paths of analytics.js.
 */
export function segmentRoutes(deps: Deps): Router {
  const router = Router();
  const ingest = createSegmentIngest(deps);
  routeWebhook(router, deps, ingest);
  routeTrackingApi(router, deps, ingest);
  return router;
}

/** The webhook destination: the Actions webhook lets its user pick the method. */
function routeWebhook(router: Router, deps: Deps, ingest: IngestCalls): void {
  // Raw bytes: the signature is computed over them, and JSON errors become our own 400.
  const body = rawBodyUpTo(
    deps.config.maxBodyBytes,
    "Set a smaller batch size in Segment's mapping, or raise MAX_BODY_BYTES.",
  );
  const receive = receiveWebhook(deps, ingest);
  // The token before the body is read.
  router
    .route("/v1/segment")
    .all(requireWebhookToken(deps.config), body)
    .post(receive)
    .put(receive)
    .patch(receive);
}

/** Ingests one event or an array of them, once its signature holds. */
function receiveWebhook(deps: Deps, ingest: IngestCalls) {
  return async (req: Request, res: Response): Promise<void> => {
    // The signature first: a sender without the secret learns nothing, not even what
    // a body should be. A body that is not JSON is signed, if at all, as it is.
    let parsed: { body: unknown; text: string };
    try {
      parsed = parseJsonBody(req);
    } catch (error) {
      verifySignature(deps.config, req, undefined);
      throw error;
    }
    const { body, text } = parsed;
    verifySignature(deps.config, req, body);
    const events = Array.isArray(body) ? body : isObject(body) ? [body] : [];
    if (events.length === 0) {
      throw invalidBody(
        "Expected one Segment event (an object) or a non-empty array of events.",
      );
    }
    sendReport(res, await ingest("webhook", text, events));
  };
}

const BATCH_PATHS = ["/v1/batch", "/v1/b"];

function callPaths(type: TrackingCall): string[] {
  return [`/v1/${type}`, `/v1/${SHORT_PATH[type]}`];
}

/** The tracking API: a batch, or one call at its type's long or short path. */
function routeTrackingApi(
  router: Router,
  deps: Deps,
  ingest: IngestCalls,
): void {
  const body = rawBodyUpTo(
    TRACKING_REQUEST_MAX_BYTES,
    "Segment's tracking API takes at most 500 KB per request: send fewer calls per batch.",
  );
  router.options(
    [...BATCH_PATHS, ...TRACKING_CALLS.flatMap(callPaths)],
    allowPages,
  );
  router.post(BATCH_PATHS, allowPages, body, receiveBatch(deps, ingest));
  for (const type of TRACKING_CALLS) {
    router.post(
      callPaths(type),
      allowPages,
      body,
      receiveCall(deps, ingest, type),
    );
  }
}

/** `{"batch": […]}`: each call checked for size on its own, the batch's context shared. */
function receiveBatch(deps: Deps, ingest: IngestCalls) {
  return async (req: Request, res: Response): Promise<void> => {
    const { body, text } = parseJsonBody(req);
    verifyWriteKey(deps, req, body);
    if (
      !isObject(body) ||
      !Array.isArray(body.batch) ||
      body.batch.length === 0
    ) {
      throw invalidBody(
        'Expected {"batch": [ …events ]} with at least one event.',
      );
    }
    const calls = splitOversizedCalls(
      body.batch.map((call: unknown) =>
        isObject(call) ? withoutWriteKey(call) : call,
      ),
    );
    const context = isObject(body.context) ? body.context : undefined;
    sendReport(
      res,
      withOversizedCalls(
        await ingestKept(ingest, text, calls.kept, context),
        calls,
      ),
    );
  };
}

/** One call, whose type is the path's. */
function receiveCall(deps: Deps, ingest: IngestCalls, type: TrackingCall) {
  return async (req: Request, res: Response): Promise<void> => {
    const { body, text } = parseJsonBody(req);
    verifyWriteKey(deps, req, body);
    if (!isObject(body))
      throw invalidBody(`Expected one ${type} call as a JSON object.`);
    const calls = splitOversizedCalls([{ ...withoutWriteKey(body), type }]);
    sendReport(
      res,
      withOversizedCalls(await ingestKept(ingest, text, calls.kept), calls),
    );
  };
}

/** `ingest` of the calls left after a size check: none left is nothing to store. */
function ingestKept(
  ingest: IngestCalls,
  text: string,
  calls: readonly unknown[],
  context?: Record<string, unknown>,
): Promise<IngestReport> {
  return calls.length === 0
    ? Promise.resolve({ accepted: 0, duplicates: 0, rejected: [] })
    : ingest("tracking", text, calls, context);
}

/**
 * CORS for the tracking API. analytics.js posts from the site's own pages, another
 * origin than Nudge's: without these headers the browser hides every answer, so
 * analytics.js counts each call as failed and keeps sending it again, and a call with
 * a header of its own (an Authorization, `additionalHeaders`) is never sent at all, as
 * its preflight fails. Any origin may be answered: the write key travels in the body
 * or a header, never in a cookie, so no page gets anything it did not send.
 */
function allowPages(req: Request, res: Response, next: NextFunction): void {
  res.set("access-control-allow-origin", "*");
  if (req.method !== "OPTIONS") {
    next();
    return;
  }
  res.set({
    "access-control-allow-methods": "POST",
    "access-control-allow-headers":
      req.get("access-control-request-headers") ?? "content-type",
    "access-control-max-age": "86400",
  });
  res.status(204).end();
}

function verifyWriteKey(deps: Deps, req: Request, body: unknown): void {
  const keys = deps.config.segmentWriteKeys;
  if (keys.length === 0) {
    throw new AppError(
      ErrorCode.invalidWriteKey,
      401,
      "The tracking API is disabled: set SEGMENT_WRITE_KEYS to the write keys Nudge should accept.",
    );
  }
  const key = writeKeyOf(req, body);
  if (key === undefined || !keys.some((known) => secretsEqual(known, key))) {
    throw new AppError(
      ErrorCode.invalidWriteKey,
      401,
      "Missing or unknown write key. Send it as HTTP Basic user name (as Segment's libraries do) or as writeKey in the body.",
    );
  }
}

/** A call without its `writeKey`: a secret that authenticated the request, not event data to store. */
function withoutWriteKey(
  call: Record<string, unknown>,
): Record<string, unknown> {
  const rest = { ...call };
  delete rest.writeKey;
  return rest;
}
