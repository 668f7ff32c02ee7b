import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import type { SegmentEvent } from "../segment-event.ts";
import { audiencePage, decidePage } from "./audience-page.ts";
import { lookupsWithout } from "./lookups.ts";
import type { AudienceMember } from "../delivery/recipient.repository.ts";
import {
  wirePayloadOf,
  type WirePayload,
} from "../providers/payload-preview.ts";
import {
  MEASURING_NOTIFICATION_ID,
  pushMessageOf,
} from "../providers/push-content.ts";
import type { Decision, RecipientFacts } from "../rules/policy.ts";
import type { Rule, RuleBook } from "../rules/rule-book.ts";
import { checkTrigger } from "./rule-trigger.service.ts";

export type PreviewAudience =
  | { kind: "user"; userId: string }
  | {
      kind: "collection";
      collection: string;
      key: string;
      itemKey: string | null;
    }
  | { kind: "where"; condition: string };

/**
 * What the policy decides for one member of the audience, and for a push it would
 * send, the payload each platform the member has a device on would get, with its size.
 */
export type PreviewRecipient = { userId: string } & Decision & {
    payloads?: WirePayload[];
  };

export type RulePreview = {
  ruleId: string;
  ruleVersion: string;
  enabled: boolean;
  triggered: boolean;
  /** Why nothing, or not everything, would happen. */
  explanation?: string;
  audience: PreviewAudience;
  recipients: PreviewRecipient[];
  /** The audience has more members than the preview's limit. */
  truncated: boolean;
};

export type PreviewDeps = {
  db: Kysely<DB>;
  now: Date;
  timezoneOf: (zone: string | null) => string;
};

/**
 * A dry run of one rule for one event: whether it triggers, who is in its audience (the
 * first `limit`), and what the policy decides for each, as the planner would decide it
 * now. Reads only; nothing is stored.
 */
export async function previewRule(
  deps: PreviewDeps,
  book: RuleBook,
  rule: Rule,
  event: SegmentEvent,
  limit: number,
): Promise<RulePreview> {
  const { userId, itemKey, triggered, explanation } = await checkTrigger(
    deps.db,
    rule,
    event,
  );
  const about = {
    ruleId: rule.id,
    ruleVersion: rule.version,
    enabled: rule.enabled,
  };
  const audience = describeAudience(rule, userId, itemKey);
  if (!triggered) {
    return {
      ...about,
      triggered: false,
      explanation,
      audience,
      recipients: [],
      truncated: false,
    };
  }
  const match = {
    // A real match draws its own places in a spread window: the preview shows one draw.
    matchId: `preview:${event.messageId}`,
    userId,
    itemKey,
    event: event.payload,
    triggeredAt: deps.now,
  };
  const { recipients, truncated } = await decideFirst(
    deps,
    book,
    rule,
    match,
    limit,
  );
  const note =
    explanation ??
    (rule.enabled
      ? undefined
      : "The rule is disabled: this is what it would do if it were enabled.");
  return {
    ...about,
    triggered: true,
    ...(note === undefined ? {} : { explanation: note }),
    audience,
    recipients,
    truncated,
  };
}

/** What the policy decides now for the audience's first `limit` members. */
async function decideFirst(
  deps: PreviewDeps,
  book: RuleBook,
  rule: Rule,
  match: Parameters<typeof decidePage>[3] & { userId: string },
  limit: number,
): Promise<{ recipients: PreviewRecipient[]; truncated: boolean }> {
  const { members, truncated } = await firstMembers(
    deps.db,
    rule,
    match,
    limit,
  );
  const { decisions, facts } = await decidePage(
    deps.db,
    book,
    rule,
    match,
    members,
    deps.now,
    lookupsWithout(deps.timezoneOf),
  );
  const recipients = members.map((member, index) =>
    recipientOf(
      rule,
      member.userId,
      decisions[index] as Decision,
      facts[index],
      deps.now,
    ),
  );
  return { recipients, truncated };
}

function recipientOf(
  rule: Rule,
  userId: string,
  decision: Decision,
  facts: RecipientFacts | undefined,
  now: Date,
): PreviewRecipient {
  if (decision.status !== "pending" || facts === undefined)
    return { userId, ...decision };
  const identity = {
    notificationId: MEASURING_NOTIFICATION_ID,
    ruleId: rule.id,
    expiresAt: decision.expiresAt,
  };
  const platforms = [...new Set(facts.devices.map((d) => d.platform))].sort();
  const payloads = platforms.map((platform) =>
    wirePayloadOf(
      platform,
      pushMessageOf(decision.content, identity, platform),
      now,
    ),
  );
  return { userId, ...decision, payloads };
}

/** The audience's first `limit` members, and whether there are more. */
async function firstMembers(
  db: Kysely<DB>,
  rule: Rule,
  match: { userId: string; itemKey: string | null },
  limit: number,
): Promise<{ members: AudienceMember[]; truncated: boolean }> {
  const members: AudienceMember[] = [];
  let cursor: string | null = null;
  // One more than asked tells whether the audience goes on; a trait audience may take
  // several pages, since a page counts the profiles scanned, not the ones that match.
  for (;;) {
    const page = await audiencePage(db, rule, match, cursor, limit + 1);
    members.push(...page.members);
    if (page.done || members.length > limit) break;
    cursor = page.cursor;
  }
  return {
    members: members.slice(0, limit),
    truncated: members.length > limit,
  };
}

function describeAudience(
  rule: Rule,
  userId: string,
  itemKey: string | null,
): PreviewAudience {
  const { audience } = rule;
  switch (audience.kind) {
    case "user":
      return { kind: "user", userId };
    case "collection":
      return {
        kind: "collection",
        collection: audience.collection,
        key: audience.key,
        itemKey,
      };
    case "where":
      return { kind: "where", condition: audience.condition.source };
  }
}
