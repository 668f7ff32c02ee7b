import type { DeliveryWindow } from "./delivery-window.ts";
import { dailySpanOf, windowOf } from "./delivery-window.ts";
import { parseDuration } from "./duration.ts";
import type { Rule } from "./rule-book.ts";
import type { Settings } from "./rules-file.schema.ts";
import {
  placeInSpread,
  scheduleSend,
  type Deferral,
  type Schedule,
  type SendTiming,
} from "./send-schedule.ts";
import {
  chooseSendHour,
  SendTimeSource,
  Timing,
  type LocalOpens,
  type SendHour,
} from "./send-time.ts";
import { stableFraction } from "./variant.ts";

/** A recipient's learned send time, as a notification's preview shows it. */
export type SendTimeView = {
  timing: Timing;
  /** The local time the push is placed at, "HH:MM": the chosen hour, or the opening. */
  hour: string;
  /** What chose it; `control` for the share sent at the opening to measure the lift. */
  source: SendTimeSource | "control";
};

/** When one recipient's push goes, and for a learned send time, how it was chosen. */
export type RecipientSchedule = {
  sendAt: Date;
  deferredBy: Deferral[];
  sendTime: SendTimeView | undefined;
};

/** What scheduling a recipient reads of them besides their timezone. */
export type ScheduleFacts = {
  userId: string;
  timezone: string | null;
  opens?: readonly LocalOpens[] | undefined;
};

export type SchedulerInput = {
  matchId: string;
  triggeredAt: Date;
  timezoneOf: (zone: string | null) => string;
  /** The app's opens per local hour, for a window that learns send times. */
  appOpenHours?: readonly number[] | undefined;
};

/** What the rule and the settings say about when its messages may go. */
export function timingOf(
  rule: Rule,
  settings: Settings,
  triggeredAt: Date,
): SendTiming {
  const { delay, ttl, quietHours, window } = rule.delivery;
  const ttlMs = ttl === undefined ? undefined : parseDuration(ttl);
  return {
    delayMs: delay === undefined ? 0 : (parseDuration(delay) ?? 0),
    quietHours: quietHours ? dailySpanOf(settings.quietHours) : undefined,
    window: windowOf(window, settings.deliveryWindow),
    // ttl counts from the trigger, not from the end of any wait.
    expiresAt:
      ttlMs === undefined ? undefined : new Date(triggeredAt.getTime() + ttlMs),
  };
}

/**
 * Schedules each recipient of one rule match. Everyone in one timezone (and, with a
 * learned send time, at one hour) is scheduled alike, up to their place in a spread
 * window, so a page works out a schedule per timezone and hour, not per recipient.
 */
export function createScheduler(
  input: SchedulerInput,
  timing: SendTiming,
): (facts: ScheduleFacts, arm: Timing | undefined) => RecipientSchedule {
  const schedules = new Map<string, Schedule>();
  const scheduleIn = (timezone: string | null, window = timing.window) => {
    const key = `${timezone ?? ""}\0${window?.start}-${window?.end}`;
    let planned = schedules.get(key);
    if (planned === undefined) {
      const zone = input.timezoneOf(timezone);
      planned = scheduleSend(input.triggeredAt, { ...timing, window }, zone);
      schedules.set(key, planned);
    }
    return planned;
  };
  const window = timing.window;
  const optimize = window?.optimize;

  return (facts, arm) => {
    if (window === undefined || optimize === undefined || arm === undefined) {
      const planned = scheduleIn(facts.timezone);
      const fraction =
        planned.spreadUntil === undefined
          ? 0
          : stableFraction(input.matchId, facts.userId, "spread");
      return { ...placeInSpread(planned, fraction), sendTime: undefined };
    }
    const plain = () => ({
      ...placeInSpread(scheduleIn(facts.timezone), 0),
      sendTime: view(arm, window.start, "control"),
    });
    if (arm === Timing.control) return plain();
    const chosen: SendHour = chooseSendHour({
      opens: facts.opens ?? [],
      appHours: input.appOpenHours ?? [],
      window,
      quietHours: timing.quietHours,
      halfLifeMs: optimize.halfLifeMs,
    });
    const atWindowStart = {
      ...plain(),
      sendTime: view(arm, window.start, SendTimeSource.window),
    };
    if (chosen.slot === undefined) return atWindowStart;
    // From the chosen hour to the window's close: past the hour while the window is
    // still open, the push goes at once rather than a day late; and on the night the
    // clocks skip the hour, it goes when they jump, as a window opening then would.
    const slot: DeliveryWindow = {
      start: chosen.slot.start,
      end: window.end,
      spread: false,
    };
    const planned = placeInSpread(scheduleIn(facts.timezone, slot), 0);
    // An hour the ttl does not reach falls back to the window: learning a better hour
    // must not drop a push that the window alone would have sent.
    const { expiresAt } = timing;
    if (expiresAt !== undefined && planned.sendAt > expiresAt)
      return atWindowStart;
    return {
      ...planned,
      sendTime: view(arm, chosen.slot.start, chosen.source),
    };
  };
}

function view(
  timing: Timing,
  minute: number,
  source: SendTimeView["source"],
): SendTimeView {
  const hh = String(Math.floor(minute / 60)).padStart(2, "0");
  const mm = String(minute % 60).padStart(2, "0");
  return { timing, hour: `${hh}:${mm}`, source };
}
