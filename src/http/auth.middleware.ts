import { createHash, timingSafeEqual } from "node:crypto";
import type { Request, RequestHandler } from "express";
import { AppError, ErrorCode } from "../errors.ts";

/** Compares secrets in constant time, whatever their lengths. */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Admin API: `Authorization: Bearer ADMIN_TOKEN`. A refusal says nothing about the resource. */
export function requireAdminToken(adminToken: string): RequestHandler {
  return (req, res, next) => {
    const match = /^Bearer\s+(.+)$/i.exec(req.get("authorization") ?? "");
    if (
      match?.[1] === undefined ||
      !secretsEqual(match[1].trim(), adminToken)
    ) {
      res.set("WWW-Authenticate", 'Bearer realm="nudge"');
      throw new AppError(
        ErrorCode.unauthorized,
        401,
        "This endpoint needs the header Authorization: Bearer <ADMIN_TOKEN>.",
      );
    }
    next();
  };
}

/**
 * The write key of a tracking-API call: HTTP Basic with the key as user name (what
 * Segment's libraries send), or `writeKey` in the body.
 */
export function writeKeyOf(req: Request, body: unknown): string | undefined {
  const match = /^Basic\s+(.+)$/i.exec(req.get("authorization") ?? "");
  if (match?.[1] !== undefined) {
    const decoded = Buffer.from(match[1].trim(), "base64").toString("utf8");
    const separator = decoded.indexOf(":");
    return separator === -1 ? decoded : decoded.slice(0, separator);
  }
  if (typeof body === "object" && body !== null && "writeKey" in body) {
    const { writeKey } = body;
    return typeof writeKey === "string" ? writeKey : undefined;
  }
  return undefined;
}
