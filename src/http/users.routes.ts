import {
  Router,
  type NextFunction,
  type Request,
  type Response,
} from "express";
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
  router.param("userId", checkUserIdLength);
  router.get("/v1/users/:userId", showUser(deps));
  router.put("/v1/users/:userId/preferences", setPreferences(deps));
  router.post("/v1/users/:userId/devices", addDevice(deps));
  router.delete("/v1/users/:userId/devices/:deviceId", removeDevice(deps));
  router.delete("/v1/users/:userId", eraseUser(deps));
  return router;
}

type UserRequest = Request<{ userId: string }>;

/** An id longer than any stored one is a mistake in the path, not an unknown user. */
function checkUserIdLength(
  _req: Request,
  _res: Response,
  next: NextFunction,
  userId: string,
): void {
  if (userId.length > MAX_ID_LENGTH)
    throw new AppError(
      ErrorCode.invalidPath,
      400,
      `A user id is at most ${String(MAX_ID_LENGTH)} characters; this one has ${String(userId.length)}.`,
    );
  next();
}

/** The profile with its newest notifications. */
function showUser(deps: Deps) {
  return async (req: UserRequest, res: Response): Promise<void> => {
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
  };
}

/** Updates opt-out and categories, answering with the preferences that result. */
function setPreferences(deps: Deps) {
  return async (req: UserRequest, res: Response): Promise<void> => {
    const update = parseBody(preferencesBody, req.body);
    rejectUnknownCategories(deps, Object.keys(update.categories ?? {}));
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
  };
}

/** Only the categories the rules file declares can be chosen: another is a typo. */
function rejectUnknownCategories(deps: Deps, names: readonly string[]): void {
  const declared = Object.keys(deps.rules.current().settings.categories);
  const unknown = names.filter((name) => !declared.includes(name));
  if (unknown.length > 0) {
    throw new AppError(
      ErrorCode.unknownCategory,
      400,
      `Unknown categories: ${unknown.join(", ")}. Declared in the rules file: ${declared.join(", ") || "none"}.`,
    );
  }
}

/** Registers a device; a web push subscription is stored under its endpoint. */
function addDevice(deps: Deps) {
  return async (req: UserRequest, res: Response): Promise<void> => {
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
  };
}

function removeDevice(deps: Deps) {
  return async (
    req: Request<{ userId: string; deviceId: string }>,
    res: Response,
  ): Promise<void> => {
    const userId = await resolveUserId(deps.db, req.params.userId);
    if (!(await deleteDevice(deps.db, userId, req.params.deviceId))) {
      throw new AppError(
        ErrorCode.deviceNotFound,
        404,
        `User "${req.params.userId}" has no device "${req.params.deviceId}".`,
      );
    }
    res.status(204).end();
  };
}

function eraseUser(deps: Deps) {
  return async (req: UserRequest, res: Response): Promise<void> => {
    const userId = await resolveUserId(deps.db, req.params.userId);
    await inTransaction(deps.db, (trx) =>
      eraseProfile(trx, userId, deps.userRows),
    );
    res.status(204).end();
  };
}

function userNotFound(userId: string): AppError {
  return new AppError(
    ErrorCode.userNotFound,
    404,
    `Nudge has no profile for user "${userId}".`,
  );
}
