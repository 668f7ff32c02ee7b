import type { KyselyPlugin } from "kysely";
import { describe, expect, it } from "vitest";
import { NotificationStatus } from "../../src/db/schema.ts";
import { createOutcomeRecorder } from "../../src/delivery/outcome-recorder.ts";
import type { NotificationUpdate } from "../../src/delivery/outcome.repository.ts";
import { createLogger } from "../../src/logger.ts";
import { uniqueId, useTestDatabase } from "../support/test-database.ts";

const testDb = useTestDatabase();

/** Counts the statements run, and holds each one's answer until `release`. */
function gatedWrites() {
  let writes = 0;
  const open = Promise.withResolvers<undefined>();
  const plugin: KyselyPlugin = {
    transformQuery: ({ node }) => node,
    async transformResult({ result }) {
      writes++;
      await open.promise;
      return result;
    },
  };
  return {
    plugin,
    writes: () => writes,
    release() {
      open.resolve(undefined);
    },
  };
}

/** The outcome of a claim that lapsed: the write changes no row, and is a write all the same. */
function sentUpdate(): NotificationUpdate {
  const at = new Date();
  return {
    userId: uniqueId("user"),
    notificationId: uniqueId("notification"),
    claimedUntil: at,
    status: NotificationStatus.sent,
    reason: null,
    sendAt: null,
    sentAt: at,
    releasedAttempt: false,
  };
}

/** A recorder whose writes go through `gate`, a write at once from `flushAt` outcomes. */
function recorderThrough(
  gate: ReturnType<typeof gatedWrites>,
  flushAt: number,
) {
  return createOutcomeRecorder({
    db: testDb.database.db.withPlugin(gate.plugin),
    logger: createLogger("silent"),
    clock: () => new Date(),
    config: { leaseMs: 60_000 },
    flushAt,
  });
}

describe("outcome recorder", () => {
  it("when outcomes are recorded while a write runs, then they are written together as soon as it ends", async () => {
    const gate = gatedWrites();
    const recorder = recorderThrough(gate, 2);

    const first = [sentUpdate(), sentUpdate()].map((update) =>
      recorder.record({ update }),
    );
    await expect.poll(gate.writes).toBe(1);
    const meanwhile = Array.from({ length: 7 }, () =>
      recorder.record({ update: sentUpdate() }),
    );
    gate.release();

    expect(await Promise.all([...first, ...meanwhile])).toEqual(
      Array(9).fill(true),
    );
    await recorder.flush();
    // In batches of `flushAt`, the seven would have taken four writes.
    expect(gate.writes()).toBe(2);
  });

  it("when an outcome is recorded after a run of writes ends, then a new write takes it", async () => {
    const gate = gatedWrites();
    gate.release();
    const recorder = recorderThrough(gate, 1);

    expect(await recorder.record({ update: sentUpdate() })).toBe(true);
    expect(await recorder.record({ update: sentUpdate() })).toBe(true);
    await recorder.flush();
    expect(gate.writes()).toBe(2);
  });
});
