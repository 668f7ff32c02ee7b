import type { ColumnType, Generated, Insertable, Selectable } from "kysely";
import { Platform, type JsonObject } from "../vocabulary.ts";

// The shared vocabulary, as the tables use it.
export { Platform, type JsonObject };

/** A json or jsonb column: written as a JSON string, read back as the parsed value. */
type Json<T> = ColumnType<T, string, string>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface EventsTable {
  message_id: string;
  user_id: string;
  type: string;
  event: string | null;
  payload: Json<JsonObject>;
  timestamp: Timestamp;
  received_at: Timestamp;
}

export interface ProfilesTable {
  user_id: string;
  traits: Json<JsonObject>;
  groups: Json<JsonObject>;
  timezone: string | null;
  timezone_source: ValueSource | null;
  locale: string | null;
  locale_source: ValueSource | null;
  push_opt_out: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Where a profile's timezone or locale came from: see migrations/0012. */
export const ValueSource = { trait: "trait", context: "context" } as const;
export type ValueSource = (typeof ValueSource)[keyof typeof ValueSource];

export interface ProfileAliasesTable {
  alias_id: string;
  user_id: string;
  created_at: Timestamp;
}

export const DeviceStatus = {
  active: "active",
  unsubscribed: "unsubscribed",
  disabled: "disabled",
} as const;
export type DeviceStatus = (typeof DeviceStatus)[keyof typeof DeviceStatus];

export interface DevicesTable {
  user_id: string;
  device_id: string;
  platform: Platform;
  token: string;
  subscription: Json<JsonObject | null>;
  status: DeviceStatus;
  locale: string | null;
  disabled_reason: string | null;
  disabled_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CategoryPreferencesTable {
  user_id: string;
  category: string;
  opted_in: boolean;
  updated_at: Timestamp;
}

export interface SavedItemsTable {
  user_id: string;
  collection: string;
  item_key: string;
  properties: Json<JsonObject>;
  saved_at: Timestamp;
}

export const MatchStatus = {
  pending: "pending",
  expanded: "expanded",
  cancelled: "cancelled",
} as const;
export type MatchStatus = (typeof MatchStatus)[keyof typeof MatchStatus];

export interface RuleMatchesTable {
  match_id: string;
  rule_id: string;
  rule_version: string;
  trigger_message_id: string;
  user_id: string | null;
  item_key: string | null;
  event: Json<JsonObject>;
  status: MatchStatus;
  cursor: string | null;
  planned: Generated<number>;
  /** The claim of the process sending its pages, and when it lapses (migration 0013). */
  claimed_by: string | null;
  claimed_until: Timestamp | null;
  triggered_at: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/**
 * A notification's life: planned as pending (or suppressed), claimed as sending, then
 * sent, failed, or pending again for a retry; cancelled by a `cancelIf` event.
 */
export const NotificationStatus = {
  pending: "pending",
  suppressed: "suppressed",
  cancelled: "cancelled",
  sending: "sending",
  sent: "sent",
  failed: "failed",
} as const;
export type NotificationStatus =
  (typeof NotificationStatus)[keyof typeof NotificationStatus];

export interface NotificationsTable {
  user_id: string;
  notification_id: string;
  match_id: string;
  rule_id: string;
  rule_version: string;
  item_key: string | null;
  variant: string | null;
  category: string | null;
  status: string;
  reason: string | null;
  deferred_by: string | null;
  send_at: Timestamp;
  expires_at: Timestamp | null;
  content: Json<JsonObject | null>;
  attempts: Generated<number>;
  claimed_until: Timestamp | null;
  sent_at: Timestamp | null;
  received_at: Timestamp | null;
  opened_at: Timestamp | null;
  /** The action id of the button whose tap opened it (migration 0017). */
  opened_action: string | null;
  bounced_at: Timestamp | null;
  converted_at: Timestamp | null;
  conversion_message_id: string | null;
  /** The platforms its deliveries went to or tried, sorted (migration 0007). */
  platforms: Generated<string[]>;
  /** Whether any of its deliveries met a dead token. */
  invalid_token: Generated<boolean>;
  /** The send-time arm, `optimized` or `control`, of a window that learns (migration 0015). */
  timing: string | null;
  /**
   * The device, provider and provider's message id of a notification whose only
   * delivery was one send at its first attempt, kept here instead of in a
   * `deliveries` row (migration 0018); null otherwise.
   */
  sent_device_id: string | null;
  sent_provider: string | null;
  sent_provider_message_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** What became of one device's push; `retry` until a later attempt settles it. */
export const DeliveryStatus = {
  sent: "sent",
  retry: "retry",
  invalidToken: "invalid_token",
  failed: "failed",
} as const;
export type DeliveryStatus =
  (typeof DeliveryStatus)[keyof typeof DeliveryStatus];

export interface DeliveriesTable {
  user_id: string;
  notification_id: string;
  device_id: string;
  platform: Platform;
  provider: string;
  status: DeliveryStatus;
  reason: string | null;
  provider_message_id: string | null;
  attempts: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UnattributedFeedbackTable {
  day: string;
  event: string;
  count: number;
}

/**
 * Notifications counted per rule, UTC hour and outcome (migration 0007): what the
 * stats API reads instead of the notifications.
 */
export interface NotificationStatsHourlyTable {
  rule_id: string;
  hour: Timestamp;
  variant: string | null;
  /** The send-time arm (migration 0015). */
  timing: string | null;
  category: string | null;
  platforms: string[];
  status: string;
  reason: string | null;
  deferred: boolean;
  invalid_token: boolean;
  /** The action tapped, for opened notifications; null otherwise. */
  opened_action: string | null;
  notifications: number;
  received: number;
  opened: number;
  bounced: number;
  converted: number;
}

/** (rule, hour) buckets written since their rollup was computed. */
export interface NotificationStatsStaleTable {
  rule_id: string;
  hour: Timestamp;
}

/** The audit trail of devices disabled on a provider's answer. */
export interface DeviceDisablingsTable {
  user_id: string;
  device_id: string;
  platform: Platform;
  token: string;
  provider: string;
  reason: string;
  notification_id: string;
  disabled_at: Timestamp;
}

export const RulesSource = { file: "file", api: "api" } as const;
export type RulesSource = (typeof RulesSource)[keyof typeof RulesSource];

export interface RulesDocumentsTable {
  version: string;
  document: Json<JsonObject>;
  source: RulesSource;
  file_hash: string | null;
  file_loaded_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** The outcome of a rule version's auto-winner test (migration 0014). */
/** A fan-out page handed to delivery unwritten (migration 0016). */
export interface HandedPagesTable {
  page_id: string;
  /** The process that holds it: its handoff's id. */
  owner: string;
  match_id: string;
  rule_id: string;
  item_key: string | null;
  uncapped: boolean;
  users: string[];
  until: Timestamp;
}

export interface RuleWinnersTable {
  rule_id: string;
  rule_version: string;
  /** Null when the test ended without a winner. */
  variant: string | null;
  metric: string;
  figures: Json<JsonObject>;
  decided_at: Timestamp;
}

/** The whole schema as Kysely sees it. Row types stay inside repositories. */
export interface DB {
  events: EventsTable;
  profiles: ProfilesTable;
  profile_aliases: ProfileAliasesTable;
  devices: DevicesTable;
  category_preferences: CategoryPreferencesTable;
  saved_items: SavedItemsTable;
  rule_matches: RuleMatchesTable;
  notifications: NotificationsTable;
  deliveries: DeliveriesTable;
  device_disablings: DeviceDisablingsTable;
  unattributed_feedback: UnattributedFeedbackTable;
  notification_stats_hourly: NotificationStatsHourlyTable;
  notification_stats_stale: NotificationStatsStaleTable;
  rules_documents: RulesDocumentsTable;
  rule_winners: RuleWinnersTable;
  handed_pages: HandedPagesTable;
}

export type ProfileRow = Selectable<ProfilesTable>;
export type DeviceRow = Selectable<DevicesTable>;
export type NewDevice = Insertable<DevicesTable>;
