import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  insertNotifications,
  type NewNotification,
} from "../../src/delivery/outbox.repository.ts";
import {
  loadRecipientFacts,
  type FactsQuery,
} from "../../src/delivery/recipient.repository.ts";
import { NotificationStatus } from "../../src/db/schema.ts";
import { uniqueId, useTestDatabase } from "../support/test-database.ts";

const ctx = useTestDatabase();

const NOW = new Date("2026-07-01T12:00:00Z");
const HOUR = 3_600_000;
const hoursAgo = (hours: number) => new Date(NOW.getTime() - hours * HOUR);

/** One earlier notification of a user, created `hours` before NOW. */
async function notified(
  userId: string,
  hours: number,
  options: {
    ruleId: string;
    itemKey: string | null;
    status?: NotificationStatus;
  },
): Promise<void> {
  const row: NewNotification = {
    userId,
    notificationId: randomUUID(),
    matchId: uniqueId("match"),
    ruleId: options.ruleId,
    ruleVersion: "v1",
    itemKey: options.itemKey,
    variant: undefined,
    category: undefined,
    status: options.status ?? NotificationStatus.pending,
    reason: undefined,
    deferredBy: [],
    sendAt: hoursAgo(hours),
    expiresAt: undefined,
    content: { title: "t", body: "b", data: {} },
  };
  const inserted = await insertNotifications(
    ctx.database.db,
    [row],
    hoursAgo(hours),
  );
  expect(inserted.size).toBe(1);
}

/** Loads facts in a transaction, on one connection, as the planner does. */
async function historyOf(userIds: string[], query: FactsQuery) {
  const facts = await ctx.database.db.transaction().execute((trx) =>
    loadRecipientFacts(
      trx,
      userIds.map((userId) => ({ userId, item: undefined })),
      query,
    ),
  );
  return facts.map((f) => [f.recentTotal, f.recentForRule, f.duplicate]);
}

describe("loadRecipientFacts: caps and dedupe", () => {
  it("when users have earlier notifications, then each window counts only its own, counted statuses", async () => {
    const rule = uniqueId("rule");
    const other = uniqueId("rule");
    const item = uniqueId("item");
    const [busy, elsewhere, quiet, lastWeek] = ["a", "b", "c", "d"].map((p) =>
      uniqueId(p),
    ) as [string, string, string, string];
    await notified(busy, 1, { ruleId: rule, itemKey: item });
    await notified(busy, 2, {
      ruleId: rule,
      itemKey: item,
      status: NotificationStatus.sent,
    });
    await notified(busy, 3, { ruleId: other, itemKey: null });
    await notified(busy, 4, {
      ruleId: rule,
      itemKey: item,
      status: NotificationStatus.failed,
    });
    await notified(busy, 72, { ruleId: rule, itemKey: item });
    await notified(elsewhere, 1, { ruleId: rule, itemKey: uniqueId("item") });
    await notified(lastWeek, 48, { ruleId: rule, itemKey: item });

    const query: FactsQuery = {
      category: undefined,
      ruleId: rule,
      itemKey: item,
      globalCapSince: hoursAgo(24),
      ruleCapSince: hoursAgo(7 * 24),
      dedupeSince: hoursAgo(24),
    };
    expect(await historyOf([busy, elsewhere, quiet, lastWeek], query)).toEqual([
      [3, 3, true],
      [1, 1, false],
      [0, 0, false],
      [0, 1, false],
    ]);
  });

  it("when the rule has no item, then a notification without one is the duplicate", async () => {
    const rule = uniqueId("rule");
    const [plain, keyed] = [uniqueId("e"), uniqueId("f")];
    await notified(plain, 1, { ruleId: rule, itemKey: null });
    await notified(keyed, 1, { ruleId: rule, itemKey: uniqueId("item") });
    const query: FactsQuery = {
      category: undefined,
      ruleId: rule,
      itemKey: null,
      globalCapSince: undefined,
      ruleCapSince: undefined,
      dedupeSince: hoursAgo(24),
    };
    expect(await historyOf([plain, keyed], query)).toEqual([
      [0, 0, true],
      [0, 0, false],
    ]);
  });

  it("when no window is configured, then nothing is counted", async () => {
    const rule = uniqueId("rule");
    const userId = uniqueId("g");
    await notified(userId, 1, { ruleId: rule, itemKey: null });
    const query: FactsQuery = {
      category: undefined,
      ruleId: rule,
      itemKey: null,
      globalCapSince: undefined,
      ruleCapSince: undefined,
      dedupeSince: undefined,
    };
    expect(await historyOf([userId], query)).toEqual([[0, 0, false]]);
  });
});

describe("insertNotifications", () => {
  it("when a page is planned again, then nobody gets a second row and a suppressed row keeps JSON null content", async () => {
    const userId = uniqueId("h");
    const row: NewNotification = {
      userId,
      notificationId: randomUUID(),
      matchId: uniqueId("match"),
      ruleId: uniqueId("rule"),
      ruleVersion: "v1",
      itemKey: null,
      variant: "holdout",
      category: "promotions",
      status: "suppressed",
      reason: "holdout",
      deferredBy: [],
      sendAt: NOW,
      expiresAt: undefined,
      content: undefined,
    };
    expect(await insertNotifications(ctx.database.db, [row], NOW)).toEqual(
      new Set([row.notificationId]),
    );
    expect(await insertNotifications(ctx.database.db, [row], NOW)).toEqual(
      new Set(),
    );
    const stored = await ctx.database.db
      .selectFrom("notifications")
      .select(["status", "reason", "variant", "send_at", "expires_at"])
      .select((eb) => eb.fn<string>("jsonb_typeof", ["content"]).as("type"))
      .where("user_id", "=", userId)
      .execute();
    expect(stored).toEqual([
      {
        status: "suppressed",
        reason: "holdout",
        variant: "holdout",
        send_at: NOW,
        expires_at: null,
        type: "null",
      },
    ]);
  });
});
