import type { ErrorRequestHandler, RequestHandler } from "express";
import { AppError, ErrorCode } from "../errors.ts";
import type { Logger } from "../logger.ts";

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
        `The request body is larger than the ${error.limit ?? "configured"} byte limit (MAX_BODY_BYTES). Send fewer events per request.`,
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
  return (error: unknown, req, res, _next) => {
    const known =
      error instanceof AppError
        ? error
        : (fromPathDecoding(error, req.path) ??
          fromBodyParser(error as BodyParserError));
    if (known !== undefined) {
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
