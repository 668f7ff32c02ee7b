/**
 * The soak's end: waiting for Nudge to finish what the load left it (plans, due
 * pushes), then whether every push it planned and sent reached the fakes, read from its
 * own rows. Queries run on short-lived connections of their own.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { RULE_ID } from "./fanout-audience.ts";
import type { Fakes, FakeCounts } from "./fanout-fakes-client.ts";
import { adminQuery, DELIVERIES_SQL } from "./support.ts";

/** Work left over: rule matches not planned, notifications due (or retrying) and not settled. */
type Backlog = { pendingMatches: number; openDue: number };

export type Drain = Backlog & { drained: boolean; seconds: number };

async function readBacklog(databaseUrl: string): Promise<Backlog> {
  const [row] = await adminQuery<Backlog>(
    databaseUrl,
    `select
      (select count(*)::int from rule_matches where status = 'pending') as "pendingMatches",
      (select count(*)::int from notifications
        where status in ('pending', 'sending') and (send_at <= now() or attempts > 0)) as "openDue"`,
  );
  return row ?? { pendingMatches: Number.NaN, openDue: Number.NaN };
}

/**
 * Polls until no match waits to be planned and no due notification waits to be sent,
 * at most `timeoutMs`. Notifications due later (the cart rule's delay of an hour) are
 * not waited for.
 */
export async function waitForDrain(
  databaseUrl: string,
  timeoutMs: number,
): Promise<Drain> {
  const start = performance.now();
  for (;;) {
    const backlog = await readBacklog(databaseUrl);
    const seconds = (performance.now() - start) / 1000;
    const drained = backlog.pendingMatches === 0 && backlog.openDue === 0;
    if (drained || seconds * 1000 >= timeoutMs)
      return { ...backlog, drained, seconds };
    await sleep(500);
  }
}

export type StatusCount = { status: string; count: number };

export type DeliveryCheck = {
  /** Sales whose match was planned, and their notifications: smallest, median, largest. */
  sales: { count: number; min: number; median: number; max: number };
  /** Notifications of the sale rule, by status (and reason when suppressed). */
  saleNotifications: StatusCount[];
  deliveries: StatusCount[];
  fakes: FakeCounts;
  /** Pushes the fakes accepted, APNs and FCM together. */
  accepted: number;
  sentDeliveries: number;
  /** Every push recorded as sent was accepted, no more and no fewer, and nothing is left to send. */
  complete: boolean;
};

/** Pushes by Nudge's rows against the pushes the fakes accepted. */
export async function checkDeliveries(
  databaseUrl: string,
  fakes: Fakes,
  drain: Drain,
): Promise<DeliveryCheck> {
  const perSale = await adminQuery<{ count: number }>(
    databaseUrl,
    `select count(*)::int as count from notifications where rule_id = $1
    group by match_id order by 1`,
    [RULE_ID],
  );
  const saleNotifications = await adminQuery<StatusCount>(
    databaseUrl,
    `select status || coalesce(' (' || reason || ')', '') as status, count(*)::int as count
    from notifications where rule_id = $1 group by 1 order by 2 desc`,
    [RULE_ID],
  );
  const deliveries = await adminQuery<StatusCount>(
    databaseUrl,
    `select status, count(*)::int as count from (${DELIVERIES_SQL}) d group by 1 order by 2 desc`,
  );
  const counts = await fakes.counts();
  const accepted = counts.apns.accepted + counts.fcm.accepted;
  const sentDeliveries =
    deliveries.find((row) => row.status === "sent")?.count ?? 0;
  const sizes = perSale.map((row) => row.count);
  return {
    sales: {
      count: sizes.length,
      min: sizes[0] ?? 0,
      median: sizes[Math.floor((sizes.length - 1) / 2)] ?? 0,
      max: sizes.at(-1) ?? 0,
    },
    saleNotifications,
    deliveries,
    fakes: counts,
    accepted,
    sentDeliveries,
    complete:
      drain.drained &&
      accepted === sentDeliveries &&
      deliveries.every((row) => row.status === "sent"),
  };
}
