import type { Migration } from "kysely/migration";
import * as initial from "./0001-initial.ts";
import * as notifications from "./0002-notifications.ts";
import * as rulesDocuments from "./0003-rules-documents.ts";
import * as delivery from "./0004-delivery.ts";
import * as feedback from "./0005-feedback.ts";
import * as statsIndexes from "./0006-stats-indexes.ts";
import * as statsRollup from "./0007-stats-rollup.ts";
import * as ruleMatchesUserIndex from "./0008-rule-matches-user-index.ts";
import * as uniqueNotificationId from "./0009-unique-notification-id.ts";
import * as notificationIdKey from "./0010-notification-id-key.ts";
import * as eventsPayloadJson from "./0011-events-payload-json.ts";
import * as timezoneLocaleSources from "./0012-timezone-locale-sources.ts";
import * as matchLeases from "./0013-match-leases.ts";
import * as ruleWinners from "./0014-rule-winners.ts";
import * as sendTiming from "./0015-send-timing.ts";
import * as handedPages from "./0016-handed-pages.ts";
import * as openedAction from "./0017-opened-action.ts";
import * as sentDevice from "./0018-sent-device.ts";
import * as handedPagesNoGin from "./0019-handed-pages-no-gin.ts";

/** Forward-only migrations, applied in key order. Never edit one that has shipped. */
export const migrations: Record<string, Migration> = {
  "0001-initial": initial,
  "0002-notifications": notifications,
  "0003-rules-documents": rulesDocuments,
  "0004-delivery": delivery,
  "0005-feedback": feedback,
  "0006-stats-indexes": statsIndexes,
  "0007-stats-rollup": statsRollup,
  "0008-rule-matches-user-index": ruleMatchesUserIndex,
  "0009-unique-notification-id": uniqueNotificationId,
  "0010-notification-id-key": notificationIdKey,
  "0011-events-payload-json": eventsPayloadJson,
  "0012-timezone-locale-sources": timezoneLocaleSources,
  "0013-match-leases": matchLeases,
  "0014-rule-winners": ruleWinners,
  "0015-send-timing": sendTiming,
  "0016-handed-pages": handedPages,
  "0017-opened-action": openedAction,
  "0018-sent-device": sentDevice,
  "0019-handed-pages-no-gin": handedPagesNoGin,
};
