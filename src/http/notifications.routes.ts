import { Router } from "express";
import { z } from "zod";
import { NotificationStatus } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError, ErrorCode } from "../errors.ts";
import { MAX_ID_LENGTH } from "../ingest/input-limits.ts";
import { isSensibleTime } from "../ingest/timestamp.ts";
import { resolveUserId } from "../profiles/profile.service.ts";
import {
  listNotifications,
  type PageCursor,
} from "../stats/notification-history.repository.ts";
import { historyOf } from "../stats/notification-history.ts";
import { countWaiting } from "../stats/waiting.repository.ts";
import { storableText } from "../ingest/storable-value.ts";
import { parseQuery } from "./validation.ts";

/** The query of GET /v1/notifications. */
export const notificationsQuery = z
  .object({
    userId: z
      .string()
      .min(1)
      .max(MAX_ID_LENGTH, `must be at most ${String(MAX_ID_LENGTH)} characters`)
      .optional(),
    ruleId: z.string().min(1).optional(),
    status: z.enum(Object.values(NotificationStatus)).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().min(1).optional(),
  })
  .refine((q) => q.userId !== undefined || q.ruleId !== undefined, {
    message: "give userId or ruleId (or both)",
  });

/** The query of GET /v1/notifications/waiting. */
export const waitingQuery = z.object({ ruleId: z.string().min(1).optional() });

/**
 * Admin API: notifications with their deliveries and history, and what waits now.
 * Behind the admin token.
 */
export function notificationsRoutes(deps: Deps): Router {
  const router = Router();

  router.get("/v1/notifications", async (req, res) => {
    const { userId, ruleId, status, limit, cursor } = parseQuery(
      notificationsQuery,
      req.query,
    );
    // An id merged into another profile (an anonymousId) lists that profile's.
    const owner =
      userId === undefined ? undefined : await resolveUserId(deps.db, userId);
    const page = await listNotifications(
      deps.db,
      { userId: owner, ruleId, status },
      cursor === undefined ? undefined : decodeCursor(cursor),
      limit,
    );
    const last = page.at(-1);
    res.json({
      notifications: page.map((n) => ({ ...n, history: historyOf(n) })),
      nextCursor:
        page.length === limit && last !== undefined
          ? encodeCursor({
              createdAt: last.createdAt,
              userId: last.userId,
              notificationId: last.notificationId,
            })
          : null,
    });
  });

  // Every rule's waiting pushes in one answer: a dashboard of 50 rules asks once.
  router.get("/v1/notifications/waiting", async (req, res) => {
    const { ruleId } = parseQuery(waitingQuery, req.query);
    res.json({
      now: deps.clock(),
      waiting: await countWaiting(deps.db, ruleId),
    });
  });

  return router;
}

function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(
    JSON.stringify([
      cursor.createdAt.toISOString(),
      cursor.userId,
      cursor.notificationId,
    ]),
  ).toString("base64url");
}

function decodeCursor(text: string): PageCursor {
  try {
    const [createdAt, userId, notificationId] = JSON.parse(
      Buffer.from(text, "base64url").toString("utf8"),
    ) as unknown[];
    // Only what a cursor of ours can hold: a time Nudge stores, ids PostgreSQL can.
    if (
      typeof createdAt === "string" &&
      isStorableId(userId) &&
      isStorableId(notificationId) &&
      isSensibleTime(new Date(createdAt))
    ) {
      return { createdAt: new Date(createdAt), userId, notificationId };
    }
  } catch {
    // Answered below.
  }
  throw new AppError(
    ErrorCode.invalidQuery,
    400,
    "cursor: not a cursor this API gave out; pass nextCursor from the previous page as it is",
  );
}

/** An id as Nudge stores ids: one that `storableText` leaves as it is. */
function isStorableId(id: unknown): id is string {
  return typeof id === "string" && storableText(id) === id;
}
