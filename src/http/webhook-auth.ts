import type { Request, RequestHandler } from "express";
import type { Config } from "../config.ts";
import { AppError, ErrorCode } from "../errors.ts";
import { isValidSignature, signedPayload } from "../ingest/signature.ts";
import { secretsEqual } from "./auth.middleware.ts";

/*
 * Segment's signature alone does not authenticate a batch: the Actions webhook signs
 * `JSON.stringify(batch[0])` only, with no timestamp, so whoever saw one signed batch
 * can post its first event again with any events after it, under the same signature.
 * SEGMENT_WEBHOOK_TOKEN covers the whole request: the Actions webhook sends it in a
 * custom header, the classic one as the Basic auth of its URL's user info.
 */

/**
 * /v1/segment: refuses a request without SEGMENT_WEBHOOK_TOKEN, when it is set, before
 * its body is read, so that a sender without it cannot make Nudge buffer a large body.
 */
export function requireWebhookToken(config: Config): RequestHandler {
  const token = config.segmentWebhookToken;
  return (req, res, next) => {
    if (token === undefined) {
      next();
      return;
    }
    const offered = offeredTokens(req.get("authorization"));
    if (offered === undefined) {
      res.set("WWW-Authenticate", 'Bearer realm="nudge", Basic realm="nudge"');
      throw new AppError(
        ErrorCode.missingWebhookToken,
        401,
        "This webhook needs SEGMENT_WEBHOOK_TOKEN: in Segment's Webhooks (Actions) mapping add the header Authorization: Bearer <token>, or put the token in the classic destination's URL as https://nudge:<token>@host/v1/segment.",
      );
    }
    // Every candidate is compared, so the time taken says nothing about which matched.
    const matches = offered.map((candidate) => secretsEqual(candidate, token));
    if (!matches.includes(true)) {
      res.set("WWW-Authenticate", 'Bearer realm="nudge", Basic realm="nudge"');
      throw new AppError(
        ErrorCode.invalidWebhookToken,
        401,
        "The webhook token does not match SEGMENT_WEBHOOK_TOKEN. Check the Authorization header (Bearer) or the user info of the destination's URL (Basic).",
      );
    }
    next();
  };
}

/**
 * The values an Authorization header may carry the token as: a Bearer token; with
 * Basic, the password (any user name), or the user name when the password is empty.
 * Undefined when the header carries neither scheme.
 */
export function offeredTokens(
  authorization: string | undefined,
): string[] | undefined {
  const [scheme = "", credentials = ""] = (authorization ?? "")
    .trim()
    .split(/\s+/, 2);
  if (credentials === "") return undefined;
  if (/^bearer$/i.test(scheme)) return [credentials];
  if (!/^basic$/i.test(scheme)) return undefined;
  const decoded = Buffer.from(credentials, "base64").toString("utf8");
  const separator = decoded.indexOf(":");
  if (separator === -1) return [decoded];
  const user = decoded.slice(0, separator);
  const password = decoded.slice(separator + 1);
  return password === "" ? [user] : [password];
}

/** X-Signature, when SEGMENT_SHARED_SECRET is set: see signature.ts for what is signed. */
export function verifySignature(
  config: Config,
  req: Request,
  body: unknown,
): void {
  const secret = config.segmentSharedSecret;
  if (secret === undefined) return;
  const signature = req.get("x-signature");
  if (signature === undefined || signature.trim() === "") {
    throw new AppError(
      ErrorCode.missingSignature,
      401,
      "The X-Signature header is missing. Set the same shared secret in Segment's destination settings as SEGMENT_SHARED_SECRET.",
    );
  }
  if (
    !isValidSignature(
      secret,
      signedPayload(req.body as Buffer, body),
      signature,
    )
  ) {
    throw new AppError(
      ErrorCode.invalidSignature,
      401,
      "X-Signature does not match the body. Check that Segment's shared secret equals SEGMENT_SHARED_SECRET.",
    );
  }
}
