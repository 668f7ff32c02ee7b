import type { DeliveryWindow } from "./delivery-window.ts";
import {
  endOfDailySpan,
  startOfDailySpan,
  type DailySpan,
} from "./local-time.ts";

/** What made a message wait, as its notification records it in `deferredBy`. */
export const Deferral = {
  delay: "delay",
  quietHours: "quiet_hours",
  window: "window",
} as const;
export type Deferral = (typeof Deferral)[keyof typeof Deferral];

/** When a rule lets its messages go, as its rule and the settings say. */
export type SendTiming = {
  delayMs: number;
  /** Undefined when there are none, or the rule ignores them. */
  quietHours: DailySpan | undefined;
  window: DeliveryWindow | undefined;
  expiresAt: Date | undefined;
};

/** When a message goes in one timezone, before it is placed in a spread window. */
export type Schedule = {
  sendAt: Date;
  deferredBy: Deferral[];
  /**
   * For a spread window, the end (exclusive) of the time a recipient's send is placed
   * in, from `sendAt`; undefined when every recipient goes at `sendAt`.
   */
  spreadUntil: Date | undefined;
};

/**
 * Reaching the window can enter quiet hours, and leaving quiet hours can land where
 * the window is closed. A round that moves nothing settles it: the second round after
 * one move, the third when quiet hours sent the message on to the next opening; a
 * night the clocks change may take one more. The rules refuse a window with no time
 * outside quiet hours, which would never settle; should the rounds run out, quiet
 * hours win, since they protect the user's night and the window is the sender's wish.
 */
const MAX_ROUNDS = 4;

/**
 * When a message triggered at `triggeredAt` is sent in `timeZone`: its delay first,
 * then the window's next opening and the end of quiet hours until both hold. Whether
 * the ttl allows it is the caller's to check. Pure, and the same for everyone in a
 * timezone, so a page's recipients share it.
 */
export function scheduleSend(
  triggeredAt: Date,
  timing: SendTiming,
  timeZone: string,
): Schedule {
  const deferredBy = new Set<Deferral>();
  let sendAt = new Date(triggeredAt.getTime() + timing.delayMs);
  if (timing.delayMs > 0) deferredBy.add(Deferral.delay);
  const { window, quietHours } = timing;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const opens =
      window === undefined
        ? sendAt
        : startOfDailySpan(sendAt, window, timeZone);
    const quietEnds = endOfDailySpan(opens, quietHours, timeZone);
    if (opens > sendAt) deferredBy.add(Deferral.window);
    if (quietEnds > opens) deferredBy.add(Deferral.quietHours);
    if (quietEnds.getTime() === sendAt.getTime()) break;
    sendAt = quietEnds;
  }
  return {
    sendAt,
    deferredBy: [...deferredBy],
    spreadUntil: spreadEnd(sendAt, timing, timeZone),
  };
}

/**
 * Where a spread window's time left after `sendAt` ends: at its close, or sooner where
 * quiet hours begin or the message expires, so that no place in the spread is one the
 * message could not be sent at.
 */
function spreadEnd(
  sendAt: Date,
  { window, quietHours, expiresAt }: SendTiming,
  timeZone: string,
): Date | undefined {
  if (window === undefined || !window.spread) return undefined;
  // Outside the window (quiet hours won), the close is sendAt itself: no spread.
  let until = endOfDailySpan(sendAt, window, timeZone).getTime();
  if (quietHours !== undefined && quietHours.start !== quietHours.end) {
    const quietBegins = startOfDailySpan(sendAt, quietHours, timeZone);
    until = Math.min(until, quietBegins.getTime());
  }
  if (expiresAt !== undefined) until = Math.min(until, expiresAt.getTime());
  return until > sendAt.getTime() ? new Date(until) : undefined;
}

/**
 * One recipient's send time: `fraction` (in [0, 1), drawn per recipient) of the way
 * through a spread window's time left, so a large audience reaches the providers
 * evenly over the window instead of all at its opening. A send moved by the spread
 * was deferred by the window. Returns copies: no two recipients share a Date or array.
 */
export function placeInSpread(
  schedule: Schedule,
  fraction: number,
): { sendAt: Date; deferredBy: Deferral[] } {
  const from = schedule.sendAt.getTime();
  const deferredBy = [...schedule.deferredBy];
  if (schedule.spreadUntil === undefined) {
    return { sendAt: new Date(from), deferredBy };
  }
  const offset = Math.floor(fraction * (schedule.spreadUntil.getTime() - from));
  if (offset > 0 && !deferredBy.includes(Deferral.window))
    deferredBy.push(Deferral.window);
  return { sendAt: new Date(from + offset), deferredBy };
}
