import { formatLocalMinute, liesWithin, type DailySpan } from "./local-time.ts";
import { stableFraction } from "./variant.ts";

/*
 * Learned send time: the hour of a delivery window at which each user is sent, from
 * when they opened pushes before. Pure: planning loads the opens and passes them in.
 */

const DAY_MS = 86_400_000;
const DAY_MINUTES = 24 * 60;

/** Which arm of the send-time test a recipient is in, as their notification records it. */
export const Timing = { optimized: "optimized", control: "control" } as const;
export type Timing = (typeof Timing)[keyof typeof Timing];

/** What decided a recipient's hour: their own opens, the app's, or nothing (the opening). */
export const SendTimeSource = {
  own: "own",
  app: "app",
  window: "window",
} as const;
export type SendTimeSource =
  (typeof SendTimeSource)[keyof typeof SendTimeSource];

/** A window's `optimize`, its defaults filled in. */
export type SendTimeOptimization = { control: number; halfLifeMs: number };

export const DEFAULT_CONTROL = 0.1;
/**
 * Habits drift (a new job, the school holidays): two weeks lets a month-old routine
 * still count a quarter while a new one takes over within days.
 */
export const DEFAULT_HALF_LIFE_MS = 14 * DAY_MS;
/**
 * A user's own history is trusted from the weight of one open within the last
 * half-life: one open a month ago (a quarter) is too little to prefer over the whole
 * app's peak. A whole open's weight would ask two opens of nearly everyone, since an
 * open is already a little old by the time the next push is planned.
 */
export const MIN_EVIDENCE = 0.5;
/** How far back a user's opens are read: beyond six half-lives they weigh almost nothing. */
export const OWN_LOOKBACK_MS = 90 * DAY_MS;
/** How far back the app's opens are read for its peak hour: recent enough to be current. */
export const APP_LOOKBACK_MS = 14 * DAY_MS;

/** Opens of one user at one local hour (0–23), `ageMs` before now. */
export type LocalOpens = { hour: number; ageMs: number; count: number };

/** One hour of a window a push may be placed at: the part of the window in that hour. */
export type SendSlot = { hour: number; slot: DailySpan };

export type SendHourInput = {
  opens: readonly LocalOpens[];
  /** The app's opens per local hour, index 0–23; empty when none are known. */
  appHours: readonly number[];
  window: DailySpan;
  /** Hours of the window within these are never chosen: the push could not go then. */
  quietHours: DailySpan | undefined;
  halfLifeMs: number;
};

/** The chosen hour, and the part of the window to send in (undefined: the whole window). */
export type SendHour = {
  hour: number;
  source: SendTimeSource;
  slot: DailySpan | undefined;
};

/**
 * The hour of the window a user is sent at: the one where their opens weigh most, each
 * open counting half as much every `halfLifeMs`, once they weigh `MIN_EVIDENCE`; else
 * the app's busiest hour; else the window's opening. Only opens at hours of the window
 * count, and a tie goes to the hour earliest in the window.
 */
export function chooseSendHour(input: SendHourInput): SendHour {
  const slots = sendSlots(input.window, input.quietHours);
  const own = new Array<number>(24).fill(0);
  for (const { hour, ageMs, count } of input.opens) {
    own[hour] =
      (own[hour] ?? 0) + count * 2 ** (-Math.max(0, ageMs) / input.halfLifeMs);
  }
  const mine = busiest(slots, own, MIN_EVIDENCE);
  if (mine !== undefined) return { ...mine, source: SendTimeSource.own };
  const app = busiest(slots, input.appHours, Number.MIN_VALUE);
  if (app !== undefined) return { ...app, source: SendTimeSource.app };
  return {
    hour: Math.floor(input.window.start / 60),
    source: SendTimeSource.window,
    slot: undefined,
  };
}

/** The slot whose hour weighs most, first in the window on a tie, if the slots weigh `least`. */
function busiest(
  slots: readonly SendSlot[],
  weights: readonly number[],
  least: number,
): Omit<SendHour, "source"> | undefined {
  let best: SendSlot | undefined;
  let bestWeight = 0;
  let total = 0;
  for (const candidate of slots) {
    const weight = weights[candidate.hour] ?? 0;
    total += weight;
    if (weight > bestWeight) {
      best = candidate;
      bestWeight = weight;
    }
  }
  return best === undefined || total < least ? undefined : { ...best };
}

const slotCache = new Map<string, SendSlot[]>();

/**
 * The window cut at each full hour, in the window's order (from its start, across
 * midnight), without the parts that lie within quiet hours: a push placed there would
 * wait for the end of quiet hours, past the window.
 */
export function sendSlots(
  window: DailySpan,
  quiet: DailySpan | undefined,
): SendSlot[] {
  const key = `${window.start}-${window.end}/${quiet?.start}-${quiet?.end}`;
  const cached = slotCache.get(key);
  if (cached !== undefined) return cached;
  const length = (window.end - window.start + DAY_MINUTES) % DAY_MINUTES;
  const slots: SendSlot[] = [];
  for (let offset = 0; offset < length;) {
    const start = (window.start + offset) % DAY_MINUTES;
    const size = Math.min(60 - (start % 60), length - offset);
    const slot = { start, end: (start + size) % DAY_MINUTES };
    const quietAll =
      quiet !== undefined &&
      quiet.start !== quiet.end &&
      liesWithin(slot, quiet);
    if (!quietAll) slots.push({ hour: Math.floor(start / 60), slot });
    offset += size;
  }
  slotCache.set(key, slots);
  return slots;
}

/**
 * A user's opens as the model reads them: each bucket's local hour in `timeZone` (at
 * that day's offset, so an open before a DST change keeps its own hour) and its age.
 */
export function localOpens(
  buckets: readonly { at: Date; count: number }[],
  timeZone: string,
  now: Date,
): LocalOpens[] {
  return buckets.map(({ at, count }) => ({
    hour: localHour(at, timeZone),
    ageMs: now.getTime() - at.getTime(),
    count,
  }));
}

/** The app's opens per local hour, each user's opens read in that user's timezone. */
export function appOpenHours(
  buckets: readonly { timezone: string; at: Date; count: number }[],
): number[] {
  const hours = new Array<number>(24).fill(0);
  for (const { timezone, at, count } of buckets) {
    const hour = localHour(at, timezone);
    hours[hour] = (hours[hour] ?? 0) + count;
  }
  return hours;
}

function localHour(at: Date, timeZone: string): number {
  return Number(formatLocalMinute(at, timeZone).slice(11, 13));
}

/**
 * The arm of a (rule, user): the control share is sent as the window alone would send
 * it, so the lift of the learned hour is measured against what the rule did before.
 * Drawn apart from the holdout and the variants (its own salt), so the arms cut
 * across them evenly, and a user stays in one arm.
 */
export function timingArm(
  ruleId: string,
  userId: string,
  control: number,
): Timing {
  return control > 0 && stableFraction(ruleId, userId, "send-time") < control
    ? Timing.control
    : Timing.optimized;
}
