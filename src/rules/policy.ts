import type { JsonObject, Platform } from "../db/schema.ts";
import { dailySpanOf } from "./delivery-window.ts";
import { endOfDailySpan } from "./local-time.ts";
import type { MessageRenderer, RenderedMessage } from "./message-template.ts";
import {
  createScheduler,
  timingOf,
  type SendTimeView,
} from "./recipient-schedule.ts";
import type { Rule } from "./rule-book.ts";
import type { Settings } from "./rules-file.schema.ts";
import type { Deferral } from "./send-schedule.ts";
import { timingArm, type LocalOpens, type Timing } from "./send-time.ts";
import { assignVariant, HOLDOUT } from "./variant.ts";

/** Why a message was not sent, in the order the policy checks them. */
export const SuppressionReason = {
  noDevice: "no_device",
  optedOut: "opted_out",
  categoryOptedOut: "category_opted_out",
  holdout: "holdout",
  duplicate: "duplicate",
  frequencyCap: "frequency_cap",
  ruleFrequencyCap: "rule_frequency_cap",
  expired: "expired",
  emptyMessage: "empty_message",
  payloadTooLarge: "payload_too_large",
} as const;
export type SuppressionReason =
  (typeof SuppressionReason)[keyof typeof SuppressionReason];

/** Everything the policy needs to know about one recipient, loaded set-based per page. */
export type RecipientFacts = {
  userId: string;
  traits: JsonObject;
  locale: string | null;
  timezone: string | null;
  optedOut: boolean;
  /** Active devices only. */
  devices: readonly { platform: Platform; locale: string | null }[];
  /** The user's explicit choice for the rule's category, if any. */
  categoryChoice: boolean | undefined;
  /** Messages counted against the global cap within its window. */
  recentTotal: number;
  /** Messages of this rule within the rule's cap window. */
  recentForRule: number;
  /** A message of this rule for the same item within the dedupe window exists. */
  duplicate: boolean;
  /** The saved item that put the user in the audience, if any. */
  item: JsonObject | undefined;
  /** Their opens by local hour, loaded only for a window that learns send times. */
  opens?: readonly LocalOpens[] | undefined;
};

export type DecisionInput = {
  /**
   * The rule match decided for: with the user, it draws each recipient's place in a
   * spread window, so a page planned again gives everyone the send time they had.
   */
  matchId: string;
  rule: Rule;
  settings: Settings;
  event: JsonObject;
  /** When the triggering event was received: delay and ttl count from here. */
  triggeredAt: Date;
  /** Resolves a profile timezone, falling back to the default for unknown names. */
  timezoneOf: (zone: string | null) => string;
  /** The variant the rule's auto-winner test promoted, if it has: read once per page. */
  winner?: string | undefined;
  /**
   * The first of these platforms whose payload for the rendered message is over its
   * limit, measured; undefined when every one fits. Planning measures with the
   * providers' own payload builders.
   */
  oversize: (
    content: RenderedMessage,
    platforms: readonly Platform[],
  ) => PayloadSize | undefined;
  /** The app's opens per local hour, for a window that learns send times. */
  appOpenHours?: readonly number[] | undefined;
};

/** A payload measured against its platform's limit, in bytes. */
export type PayloadSize = { platform: Platform; bytes: number; limit: number };

export type Decision =
  | {
      status: "suppressed";
      reason: SuppressionReason;
      variant: string | undefined;
      /** For `payload_too_large`: the payload that did not fit. */
      size?: PayloadSize;
      /** The send-time arm, for a window that learns send times. */
      timing: Timing | undefined;
    }
  | {
      status: "pending";
      variant: string | undefined;
      sendAt: Date;
      deferredBy: Deferral[];
      expiresAt: Date | undefined;
      content: RenderedMessage;
      timing: Timing | undefined;
      /** For a window that learns send times: the hour placed at, and what chose it. */
      sendTime: SendTimeView | undefined;
    };

/**
 * Decides whether, when and what one recipient is sent for one rule match. Each stop is
 * a recorded reason; delay, the delivery window and quiet hours defer, never drop.
 */
export function decide(input: DecisionInput, facts: RecipientFacts): Decision {
  return deciderFor(input)(facts);
}

/**
 * Decides for each of many recipients of one rule match, as `decide` would for each.
 * What does not depend on the recipient is worked out once: the schedule of each
 * timezone, the expiry, and the message fields that read nothing but the event.
 */
export function decideEach(
  input: DecisionInput,
  recipients: readonly RecipientFacts[],
): Decision[] {
  return recipients.map(deciderFor(input));
}

/** The decision for one recipient of `input`'s match: `decideEach` one at a time. */
export function deciderFor(
  input: DecisionInput,
): (facts: RecipientFacts) => Decision {
  const { rule, settings } = input;
  const timing = timingOf(rule, settings, input.triggeredAt);
  const scheduleOf = createScheduler(input, timing);
  const optimize = timing.window?.optimize;
  const render = rule.compiledMessage.forEvent(input.event);

  return (facts) => {
    const variant = assignVariant(
      rule.id,
      facts.userId,
      rule.variants,
      rule.holdout,
      input.winner,
    );
    const arm =
      optimize === undefined
        ? undefined
        : timingArm(rule.id, facts.userId, optimize.control);
    const stop = (reason: SuppressionReason): Decision => ({
      status: "suppressed",
      reason,
      variant,
      timing: arm,
    });

    const early = eligibility(rule, settings, facts);
    if (early !== undefined) return stop(early);
    if (variant === HOLDOUT) return stop(SuppressionReason.holdout);
    if (facts.duplicate) return stop(SuppressionReason.duplicate);
    const capped = capReason(rule, settings, facts);
    if (capped !== undefined) return stop(capped);

    const { sendAt, deferredBy, sendTime } = scheduleOf(facts, arm);
    const { expiresAt } = timing;
    if (expiresAt !== undefined && sendAt > expiresAt)
      return stop(SuppressionReason.expired);

    const content = renderFor(render, variant, facts, settings);
    if (content.silent !== true && content.title === "" && content.body === "")
      return stop(SuppressionReason.emptyMessage);
    // Stored with the message, so that the caps' counts leave it out.
    if (!rule.delivery.caps) content.uncapped = true;
    const size = input.oversize(
      content,
      facts.devices.map((d) => d.platform),
    );
    if (size !== undefined)
      return { ...stop(SuppressionReason.payloadTooLarge), size };
    return {
      status: "pending",
      variant,
      sendAt,
      deferredBy,
      // A copy: no two decisions share a mutable Date.
      expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt),
      content,
      timing: arm,
      sendTime,
    };
  };
}

function renderFor(
  render: MessageRenderer,
  variant: string | undefined,
  facts: RecipientFacts,
  settings: Settings,
): RenderedMessage {
  return render(
    variant,
    [
      facts.locale,
      ...facts.devices.map((d) => d.locale),
      settings.defaultLocale,
    ],
    {
      profile: {
        userId: facts.userId,
        traits: facts.traits,
        locale: facts.locale,
        timezone: facts.timezone,
      },
      item: facts.item ?? {},
    },
  );
}

/**
 * The checks repeated at send time, when opt-ins may have changed while a message
 * waited: devices, opt-outs and caps. Undefined means send.
 */
export function finalCheck(
  rule: Rule,
  settings: Settings,
  facts: RecipientFacts,
  expiresAt: Date | undefined,
  now: Date,
): SuppressionReason | undefined {
  return (
    eligibility(rule, settings, facts) ??
    capReason(rule, settings, facts) ??
    (expiresAt !== undefined && now > expiresAt
      ? SuppressionReason.expired
      : undefined)
  );
}

function eligibility(
  rule: Rule,
  settings: Settings,
  facts: RecipientFacts,
): SuppressionReason | undefined {
  if (facts.devices.length === 0) return SuppressionReason.noDevice;
  if (facts.optedOut) return SuppressionReason.optedOut;
  if (rule.category !== undefined) {
    const optedIn =
      facts.categoryChoice ??
      settings.categories[rule.category]?.default !== "out";
    if (!optedIn) return SuppressionReason.categoryOptedOut;
  }
  return undefined;
}

function capReason(
  rule: Rule,
  settings: Settings,
  facts: RecipientFacts,
): SuppressionReason | undefined {
  if (
    rule.delivery.caps &&
    settings.frequencyCap !== undefined &&
    facts.recentTotal >= settings.frequencyCap.max
  ) {
    return SuppressionReason.frequencyCap;
  }
  const ruleCap = rule.delivery.frequencyCap;
  if (ruleCap !== undefined && facts.recentForRule >= ruleCap.max) {
    return SuppressionReason.ruleFrequencyCap;
  }
  return undefined;
}

/**
 * The end of the quiet hours `at` falls in, in `timezone`, for a rule that keeps them;
 * undefined when a message may go at `at`. Asked when a message is planned and again
 * when it is sent: a retry's backoff or a provider's backlog can carry a message into
 * the night, and a user can move to another timezone while it waits.
 */
export function quietUntil(
  rule: Rule,
  settings: Settings,
  timezone: string,
  at: Date,
): Date | undefined {
  if (!rule.delivery.quietHours) return undefined;
  const end = endOfDailySpan(at, dailySpanOf(settings.quietHours), timezone);
  return end > at ? end : undefined;
}
