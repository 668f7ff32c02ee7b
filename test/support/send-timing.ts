import type { DeliveryWindow } from "../../src/rules/delivery-window.ts";
import { parseClockTime } from "../../src/rules/duration.ts";
import type { SendTiming } from "../../src/rules/send-schedule.ts";

/** "21:00"–"08:00" as minutes after midnight. */
export function span(start: string, end: string) {
  return { start: parseClockTime(start) ?? -1, end: parseClockTime(end) ?? -1 };
}

/** A delivery window from clock times. */
export function window(
  start: string,
  end: string,
  spread = false,
): DeliveryWindow {
  return { ...span(start, end), spread };
}

/** A rule's timing with nothing but `fields`: no delay, quiet hours, window or ttl. */
export function timing(fields: Partial<SendTiming>): SendTiming {
  return {
    delayMs: 0,
    quietHours: undefined,
    window: undefined,
    expiresAt: undefined,
    ...fields,
  };
}
