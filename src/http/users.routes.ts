import { Router } from "express";
import { z } from "zod";
import { DeviceStatus, Platform } from "../db/schema.ts";
import { inTransaction } from "../db/transaction.ts";
import type { Deps } from "../deps.ts";
import { AppError, ErrorCode } from "../errors.ts";
import { isPushSubscription } from "../ingest/device-tokens.ts";
import {
  fitsBytes,
  MAX_DEVICE_TOKEN_BYTES,
  MAX_ID_LENGTH,
} from "../ingest/input-limits.ts";
import { deleteDevice } from "../profiles/device.repository.ts";
import { eraseProfile } from "../profiles/profile-merge.repository.ts";
import {
  getUserView,
  registerDevice,
  resolveUserId,
  updatePreferences,
} from "../profiles/profile.service.ts";
import { listNotifications } from "../stats/notification-history.repository.ts";
import { parseBody } from "./validation.ts";

const choice = z
  .union([z.boolean(), z.enum(["in", "out"])])
  .transform((value) => value === true || value === "in");

/** The body of PUT /v1/users/:userId/preferences. */
export const preferencesBody = z.strictObject({
  optOut: z.boolean().optional(),
  categories: z.record(z.string(), choice).optional(),
});

const TOKEN_TOO_LONG = `must be at most ${String(MAX_DEVICE_TOKEN_BYTES)} bytes (UTF-8)`;

/** The body of POST /v1/users/:userId/devices. */
export const deviceBody = z.discriminatedUnion("platform", [
  z.strictObject({
    platform: z.enum([Platform.apns, Platform.fcm]),
    token: z
      .string()
      .trim()
      .min(1)
      .refine((token) => fitsBytes(token, MAX_DEVICE_TOKEN_BYTES), {
        message: TOKEN_TOO_LONG,
      }),
    locale: z.string().min(2).optional(),
    status: z
      .enum([DeviceStatus.active, DeviceStatus.unsubscribed])
      .default(DeviceStatus.active),
  }),
  z.strictObject({
    platform: z.literal(Platform.webpush),
    subscription: z
      .custom((value) => isPushSubscription(value), {
        message:
          'must be a browser PushSubscription: {endpoint: "https://…", keys: {p256dh, auth}}',
      })
      .refine(
        (value) =>
          fitsBytes(
            (value as { endpoint: string }).endpoint,
            MAX_DEVICE_TOKEN_BYTES,
          ),
        { message: `endpoint ${TOKEN_TOO_LONG}`, path: ["endpoint"] },
      ),
    locale: z.string().min(2).optional(),
    status: z
      .enum([DeviceStatus.active, DeviceStatus.unsubscribed])
      .default(DeviceStatus.active),
  }),
]);

/** How many of a user's newest notifications the profile shows. */
const RECENT_NOTIFICATIONS = 20;

/** Admin API for profiles. Mounted behind the admin token. */
export function usersRoutes(deps: Deps): Router {
  const router = Router();
  router.param("userId", (req, _res, next, userId: string) => {
    if (userId.length > MAX_ID_LENGTH)
      throw new AppError(
        ErrorCode.invalidPath,
        400,
        `A user id is at most ${String(MAX_ID_LENGTH)} characters; this one has ${String(userId.length)}.`,
      );
    next();
  });

  router.get("/v1/users/:userId", async (req, res) => {
    const view = await getUserView(
      deps.db,
      req.params.userId,
      deps.rules.current().settings.categories,
    );
    if (view === undefined) throw userNotFound(req.params.userId);
    const notifications = await listNotifications(
      deps.db,
      { userId: view.userId, ruleId: undefined, status: undefined },
      undefined,
      RECENT_NOTIFICATIONS,
    );
    res.json({ ...view, notifications });
  });

  router.put("/v1/users/:userId/preferences", async (req, res) => {
    const update = parseBody(preferencesBody, req.body);
    const declared = Object.keys(deps.rules.current().settings.categories);
    const unknown = Object.keys(update.categories ?? {}).filter(
      (name) => !declared.includes(name),
    );
    if (unknown.length > 0) {
      throw new AppError(
        ErrorCode.unknownCategory,
        400,
        `Unknown categories: ${unknown.join(", ")}. Declared in the rules file: ${declared.join(", ") || "none"}.`,
      );
    }
    const userId = await updatePreferences(deps.db, req.params.userId, update, {
      now: deps.clock(),
      userRows: deps.userRows,
    });
    const view = await getUserView(
      deps.db,
      userId,
      deps.rules.current().settings.categories,
    );
    res.json(view?.preferences);
  });

  router.post("/v1/users/:userId/devices", async (req, res) => {
    const body = parseBody(deviceBody, req.body);
    const device =
      body.platform === Platform.webpush
        ? {
            platform: body.platform,
            token: (body.subscription as { endpoint: string }).endpoint,
            subscription: body.subscription as Record<string, unknown>,
            status: body.status,
            locale: body.locale,
          }
        : body;
    const { device: stored } = await registerDevice(
      deps.db,
      req.params.userId,
      device,
      { now: deps.clock(), userRows: deps.userRows },
    );
    res.status(201).json(stored);
  });

  router.delete("/v1/users/:userId/devices/:deviceId", async (req, res) => {
    const userId = await resolveUserId(deps.db, req.params.userId);
    if (!(await deleteDevice(deps.db, userId, req.params.deviceId))) {
      throw new AppError(
        ErrorCode.deviceNotFound,
        404,
        `User "${req.params.userId}" has no device "${req.params.deviceId}".`,
      );
    }
    res.status(204).end();
  });

  router.delete("/v1/users/:userId", async (req, res) => {
    const userId = await resolveUserId(deps.db, req.params.userId);
    await inTransaction(deps.db, (trx) =>
      eraseProfile(trx, userId, deps.userRows),
    );
    res.status(204).end();
  });

  return router;
}

function userNotFound(userId: string): AppError {
  return new AppError(
    ErrorCode.userNotFound,
    404,
    `Nudge has no profile for user "${userId}".`,
  );
}
