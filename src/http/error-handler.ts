import type { ErrorRequestHandler, RequestHandler } from "express";
import { isDatabaseUnavailable } from "../db/availability.ts";
import { AppError, ErrorCode } from "../errors.ts";
import type { Logger } from "../logger.ts";

/** Seconds a client is asked to wait while the database is away (Segment retries 503s). */
export const RETRY_AFTER_SECONDS = 5;
/** While the database is away, one log line per this many ms however many requests fail. */
const UNAVAILABLE_LOG_EVERY_MS = 10_000;

/** The answer to a request that failed only because the database is away. */
export function databaseUnavailable(): AppError {
  return new AppError(
    ErrorCode.unavailable,
    503,
    "The database is unavailable; nothing was stored. Retry after the Retry-After seconds.",
  );
}

/** Errors raised by express's body parsers carry a `type` and an HTTP status. */
type BodyParserError = Error & {
  type?: string;
  status?: number;
  limit?: number;
};

/** Turns a body-parser failure into the AppError the client should see, if it is one. */
function fromBodyParser(error: BodyParserError): AppError | undefined {
  switch (error.type) {
    case "entity.too.large":
      return new AppError(
        ErrorCode.payloadTooLarge,
        413,
        `The request body is larger than the ${error.limit ?? "configured"} byte limit.`,
      );
    case "entity.parse.failed":
      return new AppError(
        ErrorCode.invalidJson,
        400,
        `The request body is not valid JSON: ${error.message}`,
      );
    case "encoding.unsupported":
    case "charset.unsupported":
      return new AppError(ErrorCode.unsupportedMediaType, 415, error.message);
    case "request.aborted":
    case "request.size.invalid":
      return new AppError(ErrorCode.invalidBody, 400, error.message);
    case undefined:
    default:
      // The parsers' other refusals, such as a gzip body that does not inflate.
      return error.status !== undefined &&
        error.status >= 400 &&
        error.status < 500
        ? new AppError(
            ErrorCode.invalidBody,
            400,
            `The request body cannot be read: ${error.message}`,
          )
        : undefined;
  }
}

/** Express fails to route a path whose parameter is not percent-encoded UTF-8. */
function fromPathDecoding(error: unknown, path: string): AppError | undefined {
  if (!(error instanceof URIError)) return undefined;
  return new AppError(
    ErrorCode.invalidPath,
    400,
    `The path ${path} is not valid percent-encoded UTF-8: encode each parameter with encodeURIComponent.`,
  );
}

/** The one place errors become HTTP responses: `{error: {code, message, details?}}`. */
export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  let unavailableSince: number | undefined;
  let unavailableCount = 0;
  const noteUnavailable = (error: unknown) => {
    unavailableCount++;
    const now = Date.now();
    if (
      unavailableSince !== undefined &&
      now - unavailableSince < UNAVAILABLE_LOG_EVERY_MS
    )
      return;
    logger.warn(
      { err: error, requests: unavailableCount },
      "requests refused: the database is unavailable",
    );
    unavailableSince = now;
    unavailableCount = 0;
  };
  const recognise = (error: unknown, path: string): AppError | undefined => {
    if (error instanceof AppError) return error;
    if (isDatabaseUnavailable(error)) {
      noteUnavailable(error);
      return databaseUnavailable();
    }
    return (
      fromPathDecoding(error, path) ?? fromBodyParser(error as BodyParserError)
    );
  };
  return (error: unknown, req, res, _next) => {
    const known = recognise(error, req.path);
    if (known !== undefined) {
      if (known.status === 503)
        res.set("Retry-After", String(RETRY_AFTER_SECONDS));
      res.status(known.status).json({
        error: {
          code: known.code,
          message: known.message,
          ...(known.details === undefined ? {} : { details: known.details }),
        },
      });
      return;
    }
    logger.error(
      { err: error, method: req.method, path: req.path },
      "request failed",
    );
    res.status(500).json({
      error: {
        code: ErrorCode.internal,
        message: "Nudge could not process the request; it is safe to retry.",
      },
    });
  };
}

export const notFound: RequestHandler = (req) => {
  throw new AppError(
    ErrorCode.notFound,
    404,
    `There is no route ${req.method} ${req.path}.`,
  );
};
