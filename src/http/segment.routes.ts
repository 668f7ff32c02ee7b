import {
  Router,
  type NextFunction,
  type Request,
  type Response,
} from "express";
import type { Deps } from "../deps.ts";
import { AppError, ErrorCode } from "../errors.ts";
import { createIngestBatcher } from "../ingest/ingest-batcher.ts";
import type { IngestReport } from "../ingest/ingest.service.ts";
import { CALL_TYPES } from "../segment-event.ts";
import { secretsEqual, writeKeyOf } from "./auth.middleware.ts";
import {
  rawBodyUpTo,
  splitOversizedCalls,
  TRACKING_REQUEST_MAX_BYTES,
  withOversizedCalls,
} from "./intake-limits.ts";
import { storableCalls } from "./storable-input.ts";
import { requireWebhookToken, verifySignature } from "./webhook-auth.ts";

/** The call types the tracking API takes, each at its own path: a deletion comes only by webhook. */
export const TRACKING_CALLS = CALL_TYPES.filter((type) => type !== "delete");

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
  // Raw bytes: the signature is computed over them, and JSON errors become our own 400.
  const webhookBody = rawBodyUpTo(
    deps.config.maxBodyBytes,
    "Set a smaller batch size in Segment's mapping, or raise MAX_BODY_BYTES.",
  );
  const trackingBody = rawBodyUpTo(
    TRACKING_REQUEST_MAX_BYTES,
    "Segment's tracking API takes at most 500 KB per request: send fewer calls per batch.",
  );
  // Concurrent requests share transactions under load. Two in flight let Node prepare
  // one group while Postgres writes the other; more only add lock waits between groups
  // that update the same profiles (measured with bench/ingest.ts).
  const batcher = createIngestBatcher(deps, {
    maxInFlight: Math.min(2, deps.config.databasePoolSize),
    lingerMs: 2,
    maxCalls: 1000,
  });
  /** Ingests a request's calls, as Nudge can store them (see storable-input.ts). */
  const ingest = async (
    api: "webhook" | "tracking",
    text: string,
    calls: readonly unknown[],
    context?: Record<string, unknown>,
  ) => {
    const timer = deps.metrics.ingestSeconds.startTimer({ api });
    const {
      inputs,
      context: stored,
      tooDeep,
    } = storableCalls(text, calls, context);
    const report = await batcher.ingest({
      inputs,
      defaults: stored === undefined ? {} : { context: stored },
      ...(tooDeep !== undefined && { tooDeep }),
    });
    timer();
    const { ingestedCalls } = deps.metrics;
    ingestedCalls.inc({ api, result: "accepted" }, report.accepted);
    ingestedCalls.inc({ api, result: "duplicate" }, report.duplicates);
    ingestedCalls.inc({ api, result: "rejected" }, report.rejected.length);
    for (const { code } of report.warnings ?? [])
      deps.metrics.ingestWarnings.inc({ code });
    return report;
  };
  /** `ingest` of the calls left after a size check: none left is nothing to store. */
  const ingestKept = (
    api: "webhook" | "tracking",
    text: string,
    calls: readonly unknown[],
    context?: Record<string, unknown>,
  ): Promise<IngestReport> =>
    calls.length === 0
      ? Promise.resolve({ accepted: 0, duplicates: 0, rejected: [] })
      : ingest(api, text, calls, context);

  // The Actions webhook lets its user pick the method; the token before the body is read.
  router
    .route("/v1/segment")
    .all(requireWebhookToken(deps.config), webhookBody)
    .post(receiveWebhook)
    .put(receiveWebhook)
    .patch(receiveWebhook);
  async function receiveWebhook(req: Request, res: Response): Promise<void> {
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
  }

  const batchPaths = ["/v1/batch", "/v1/b"];
  const callPaths = (type: (typeof TRACKING_CALLS)[number]) => [
    `/v1/${type}`,
    `/v1/${SHORT_PATH[type]}`,
  ];
  router.options(
    [...batchPaths, ...TRACKING_CALLS.flatMap(callPaths)],
    allowPages,
  );

  router.post(
    batchPaths,
    allowPages,
    trackingBody,
    async (req: Request, res: Response) => {
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
      sendReport(
        res,
        withOversizedCalls(
          await ingestKept(
            "tracking",
            text,
            calls.kept,
            isObject(body.context) ? body.context : undefined,
          ),
          calls,
        ),
      );
    },
  );

  for (const type of TRACKING_CALLS) {
    router.post(
      callPaths(type),
      allowPages,
      trackingBody,
      async (req: Request, res: Response) => {
        const { body, text } = parseJsonBody(req);
        verifyWriteKey(deps, req, body);
        if (!isObject(body))
          throw invalidBody(`Expected one ${type} call as a JSON object.`);
        const calls = splitOversizedCalls([{ ...withoutWriteKey(body), type }]);
        sendReport(
          res,
          withOversizedCalls(
            await ingestKept("tracking", text, calls.kept),
            calls,
          ),
        );
      },
    );
  }
  return router;
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

/** The body as received, which its signature or write key is checked against, and its text. */
function parseJsonBody(req: Request): { body: unknown; text: string } {
  const raw: unknown = req.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) {
    throw invalidBody("The request body is empty: send JSON.");
  }
  const text = raw.toString("utf8");
  try {
    return { body: JSON.parse(text), text };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AppError(
      ErrorCode.invalidJson,
      400,
      `The request body is not valid JSON: ${reason}`,
    );
  }
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

/** 200 with the report; 400 when every event was invalid, so a sender notices. */
function sendReport(res: Response, report: IngestReport): void {
  const allRejected =
    report.accepted === 0 &&
    report.duplicates === 0 &&
    report.rejected.length > 0;
  if (allRejected) {
    throw new AppError(
      ErrorCode.invalidEvents,
      400,
      "No event was accepted: each rejected event lists what to fix.",
      { rejected: report.rejected },
    );
  }
  res.status(200).json(report);
}

/** A call without its `writeKey`: a secret that authenticated the request, not event data to store. */
function withoutWriteKey(
  call: Record<string, unknown>,
): Record<string, unknown> {
  const rest = { ...call };
  delete rest.writeKey;
  return rest;
}

function invalidBody(message: string): AppError {
  return new AppError(ErrorCode.invalidBody, 400, message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
