import { describe, expect, it } from "vitest";
import { createEventRetention } from "../../src/ingest/event-retention.ts";
import { createLogger } from "../../src/logger.ts";
import { uniqueId, useTestDatabase } from "../support/test-database.ts";

const ctx = useTestDatabase();

async function insertEvent(receivedAt: Date): Promise<string> {
  const messageId = uniqueId("msg");
  await ctx.database.db
    .insertInto("events")
    .values({
      message_id: messageId,
      user_id: uniqueId("user"),
      type: "track",
      event: "Seen",
      payload: "{}",
      timestamp: receivedAt,
      received_at: receivedAt,
    })
    .execute();
  return messageId;
}

describe("event retention", () => {
  it("when events are older than the retention window, then a sweep deletes them and keeps the rest", async () => {
    const now = new Date("2026-06-30T12:00:00Z");
    const old = await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        insertEvent(new Date(now.getTime() - (8 + i) * 86_400_000)),
      ),
    );
    const recent = await insertEvent(new Date(now.getTime() - 6 * 86_400_000));
    const retention = createEventRetention({
      db: ctx.database.db,
      logger: createLogger("silent"),
      clock: () => now,
      retentionDays: 7,
    });

    expect(await retention.sweep()).toBe(3);

    const left = await ctx.database.db
      .selectFrom("events")
      .select("message_id")
      .where("message_id", "in", [...old, recent])
      .execute();
    expect(left.map((row) => row.message_id)).toEqual([recent]);
    expect(await retention.sweep()).toBe(0);
  });
});
