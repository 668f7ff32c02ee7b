import express, {
  type ErrorRequestHandler,
  type RequestHandler,
} from "express";
import { AppError, ErrorCode } from "../errors.ts";
import type { IngestReport, RejectedEvent } from "../ingest/ingest.service.ts";

/*
 * The tracking API keeps Segment's own limits, so that what Segment's libraries send
 * Nudge accepts and what Segment would refuse Nudge refuses too: 500 KB per request and
 * 32 KB per call (analytics-node splits its batches to stay under both). The webhook
 * has its own limit, MAX_BODY_BYTES, sized for the Actions webhook's 4,000-event batch.
 */

/** A tracking-API request: Segment's 500 KB per /v1/batch. */
export const TRACKING_REQUEST_MAX_BYTES = 500 * 1024;

/** A call of the tracking API, as JSON: Segment's 32 KB per call. */
export const TRACKING_CALL_MAX_BYTES = 32 * 1024;

/**
 * The raw body, up to `limit` bytes; above it, 413 `payload_too_large` with the limit
 * and `advice` on what the sender should do instead.
 */
export function rawBodyUpTo(
  limit: number,
  advice: string,
): [RequestHandler, ErrorRequestHandler] {
  const tooLarge: ErrorRequestHandler = (error, _req, _res, next) => {
    if ((error as { type?: unknown }).type !== "entity.too.large") {
      next(error);
      return;
    }
    throw new AppError(
      ErrorCode.payloadTooLarge,
      413,
      `The request body is larger than ${String(limit)} bytes. ${advice}`,
    );
  };
  return [express.raw({ type: () => true, limit }), tooLarge];
}

/** A request's calls split into those within TRACKING_CALL_MAX_BYTES and those over it. */
export type SizedCalls = {
  kept: unknown[];
  /** The position in the request of each kept call. */
  keptIndexes: number[];
  oversized: RejectedEvent[];
};

/** Splits off the calls over TRACKING_CALL_MAX_BYTES, each rejected on its own. */
export function splitOversizedCalls(calls: readonly unknown[]): SizedCalls {
  const sized: SizedCalls = { kept: [], keptIndexes: [], oversized: [] };
  calls.forEach((call, index) => {
    const bytes = jsonBytes(call);
    if (bytes === undefined || bytes <= TRACKING_CALL_MAX_BYTES) {
      sized.kept.push(call);
      sized.keptIndexes.push(index);
      return;
    }
    const { messageId } = call as { messageId?: unknown };
    sized.oversized.push({
      index,
      messageId:
        typeof messageId === "string" || typeof messageId === "number"
          ? String(messageId)
          : undefined,
      code: "invalid_event",
      problems: [
        {
          path: "(event)",
          message: `is ${String(bytes)} bytes of JSON; a call may be at most ${String(TRACKING_CALL_MAX_BYTES)} (32 KB, as in Segment's tracking API)`,
        },
      ],
    });
  });
  return sized;
}

/** The report of the kept calls, with positions in the whole request and the oversized ones added. */
export function withOversizedCalls(
  report: IngestReport,
  { keptIndexes, oversized }: SizedCalls,
): IngestReport {
  if (oversized.length === 0) return report;
  const rejected = [
    ...report.rejected.map((r) => ({
      ...r,
      index: keptIndexes[r.index] ?? r.index,
    })),
    ...oversized,
  ].sort((a, b) => a.index - b.index);
  return { ...report, rejected };
}

/** Bytes of a call as JSON; undefined when it nests too deep to stringify (rejected as such later). */
function jsonBytes(call: unknown): number | undefined {
  try {
    return Buffer.byteLength(JSON.stringify(call), "utf8");
  } catch {
    return undefined;
  }
}
