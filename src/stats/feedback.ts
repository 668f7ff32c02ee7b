/** What a device said about a push. */
export const FeedbackKind = {
  received: "received",
  opened: "opened",
  bounced: "bounced",
} as const;
export type FeedbackKind = (typeof FeedbackKind)[keyof typeof FeedbackKind];

/**
 * Push feedback events by name: the Segment mobile spec's, and the names the Engage
 * push plugins send.
 */
const FEEDBACK_EVENTS: Readonly<Record<string, FeedbackKind>> = {
  "Push Notification Received": FeedbackKind.received,
  "Push Notification Tapped": FeedbackKind.opened,
  "Push Notification Bounced": FeedbackKind.bounced,
  "Push Delivered": FeedbackKind.received,
  "Push Opened": FeedbackKind.opened,
};

export type Feedback = {
  kind: FeedbackKind;
  /** The notification the event names; undefined when it names none. */
  nudgeId: string | undefined;
  /** For a tap on one of the notification's buttons: its action id. */
  actionId?: string;
};

/**
 * Where the messageId of Nudge's own outcome reports to Segment starts. Nudge reports
 * a push that reached no device as `Push Notification Bounced`; were Segment to
 * forward that report back to Nudge, it is not a device's feedback.
 */
export const OWN_REPORT_PREFIX = "nudge-";

/** The feedback a track event carries, if it is a push feedback event. */
export function feedbackOf(event: {
  type: string;
  event: string | undefined;
  messageId?: string;
  properties: Record<string, unknown>;
}): Feedback | undefined {
  if (event.type !== "track" || event.event === undefined) return undefined;
  if (event.messageId?.startsWith(OWN_REPORT_PREFIX) === true) return undefined;
  const kind = FEEDBACK_EVENTS[event.event];
  if (kind === undefined) return undefined;
  const nudgeId = nudgeIdOf(event.properties);
  const actionId = event.properties.action_id;
  return kind === FeedbackKind.opened &&
    typeof actionId === "string" &&
    actionId !== ""
    ? { kind, nudgeId, actionId }
    : { kind, nudgeId };
}

/**
 * Where apps put the notification id: `properties.nudge_id` (also where the classic
 * SDKs put it, forwarding the push's payload as the properties, and where Nudge puts
 * it in every payload), `properties.campaign.nudge_id` or `.id` (the spec's campaign
 * object), or `properties.data.nudge_id` (an Android data payload forwarded whole).
 */
function nudgeIdOf(properties: Record<string, unknown>): string | undefined {
  const { campaign, data } = properties;
  const candidates = [
    properties.nudge_id,
    field(campaign, "nudge_id"),
    field(campaign, "id"),
    field(data, "nudge_id"),
  ];
  return candidates.find(
    (value): value is string => typeof value === "string" && value !== "",
  );
}

function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;
}
