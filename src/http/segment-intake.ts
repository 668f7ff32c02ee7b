import type { Request, Response } from "express";
import type { Deps } from "../deps.ts";
import { AppError, ErrorCode } from "../errors.ts";
import {
  createIngestBatcher,
  type IngestBatcher,
} from "../ingest/ingest-batcher.ts";
import type { IngestReport } from "../ingest/ingest.service.ts";
import { storableCalls } from "./storable-input.ts";

/*
 * What both Segment-facing APIs (the webhook and the tracking API) do alike: read the
 * body as JSON, ingest its calls, and answer with the report.
 */

/** Which API a call came by, as the ingest metrics label it. */
export type SegmentApi = "webhook" | "tracking";

/** Ingests one request's calls; `context` is the batch's, shared by its calls. */
export type IngestCalls = (
  api: SegmentApi,
  text: string,
  calls: readonly unknown[],
  context?: Record<string, unknown>,
) => Promise<IngestReport>;

/**
 * The ingest both APIs share, so that their concurrent requests share transactions
 * under load.
 */
export function createSegmentIngest(deps: Deps): IngestCalls {
  // Two in flight let Node prepare one group while Postgres writes the other; more
  // only add lock waits between groups that update the same profiles (measured with
  // bench/ingest.ts).
  const batcher = createIngestBatcher(deps, {
    maxInFlight: Math.min(2, deps.config.databasePoolSize),
    lingerMs: 2,
    maxCalls: 1000,
  });
  return (api, text, calls, context) =>
    ingestStorable(deps, batcher, api, { text, calls, context });
}

/** Ingests a request's calls, as Nudge can store them (see storable-input.ts). */
async function ingestStorable(
  deps: Deps,
  batcher: IngestBatcher,
  api: SegmentApi,
  request: {
    text: string;
    calls: readonly unknown[];
    context: Record<string, unknown> | undefined;
  },
): Promise<IngestReport> {
  const timer = deps.metrics.ingestSeconds.startTimer({ api });
  const {
    inputs,
    context: stored,
    tooDeep,
  } = storableCalls(request.text, request.calls, request.context);
  const report = await batcher.ingest({
    inputs,
    defaults: stored === undefined ? {} : { context: stored },
    ...(tooDeep !== undefined && { tooDeep }),
  });
  timer();
  countIngested(deps, api, report);
  return report;
}

function countIngested(
  deps: Deps,
  api: SegmentApi,
  report: IngestReport,
): void {
  const { ingestedCalls } = deps.metrics;
  ingestedCalls.inc({ api, result: "accepted" }, report.accepted);
  ingestedCalls.inc({ api, result: "duplicate" }, report.duplicates);
  ingestedCalls.inc({ api, result: "rejected" }, report.rejected.length);
  for (const { code } of report.warnings ?? [])
    deps.metrics.ingestWarnings.inc({ code });
}

/** The body as received, which its signature or write key is checked against, and its text. */
export function parseJsonBody(req: Request): { body: unknown; text: string } {
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

/** 200 with the report; 400 when every event was invalid, so a sender notices. */
export function sendReport(res: Response, report: IngestReport): void {
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

/** The 400 for a body that is JSON but not the shape the API takes. */
export function invalidBody(message: string): AppError {
  return new AppError(ErrorCode.invalidBody, 400, message);
}

/** Narrows parsed JSON to an object, as a Segment call or batch must be. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
