/**
 * The soak's requests: the ingest benchmark's mobile-app calls (identify with traits,
 * screen, Product Viewed, wishlist adds, Product Added; 30% with a push token), 5% of
 * them replaced by seeded savers' wishlist removals, sent in a fixed cycle of
 * `/v1/batch` batches, `/v1/segment` arrays and single `/v1/segment` calls; and the
 * merchant's sales. Every call's messageId comes from the ledger, which is told of
 * each request answered 200 with all of its calls accepted.
 */
import type { Pool } from "undici";
import {
  postBatch,
  postWebhook,
  postWebhookArray,
  PRODUCTS,
} from "./ingest-traffic.ts";
import type { Send } from "./load.ts";
import type { EventSource } from "./segment-events.ts";
import type { Ledger } from "./soak-ledger.ts";
import { removalCall, saleCall } from "./soak-population.ts";

/** One cycle of requests, repeated: its calls by the way they are sent. */
export const MIX = {
  /** Calls in the cycle's one `/v1/batch` request. */
  batchCalls: 100,
  /** Calls in the cycle's one `/v1/segment` request carrying an array. */
  webhookBatchCalls: 25,
  /** `/v1/segment` requests of one call each. */
  singles: 25,
  /** Every this-many-th call is a seeded saver's wishlist removal. */
  removalEvery: 20,
} as const;

const CYCLE_REQUESTS = 2 + MIX.singles;
const CYCLE_CALLS = MIX.batchCalls + MIX.webhookBatchCalls + MIX.singles;

/** Requests per second that carry `eventsPerSecond` calls in MIX's proportions. */
export function requestRate(eventsPerSecond: number): number {
  return (eventsPerSecond * CYCLE_REQUESTS) / CYCLE_CALLS;
}

export type TrafficOptions = {
  client: Pool;
  events: EventSource;
  ledger: Ledger;
  /** Seeded savers, `saver-000000` on (see soak-population.ts). */
  savers: number;
  /** Told of the calls of each request Nudge accepted whole. */
  onAccepted(calls: number): void;
};

/**
 * Posts `texts` (whose ledger numbers are `numbers`) with `post`, and acknowledges them
 * only when every call was accepted; otherwise the request counts as failed.
 */
async function acknowledged(
  options: TrafficOptions,
  numbers: readonly number[],
  post: () => Promise<number>,
): Promise<void> {
  const accepted = await post();
  if (accepted !== numbers.length) {
    throw new Error(
      `200, but ${String(accepted)} of ${String(numbers.length)} calls accepted`,
    );
  }
  options.ledger.acknowledge(numbers);
  options.onAccepted(accepted);
}

/** The open loop's `send`: request `index` of the cycle of MIX. */
export function trafficSender(options: TrafficOptions): Send {
  const { client, events, ledger, savers } = options;
  let calls = 0;
  let removals = 0;
  const nextCall = (): { n: number; text: string } => {
    const n = ledger.issue();
    if (++calls % MIX.removalEvery !== 0)
      return { n, text: events.next(ledger.idOf(n)) };
    // Scattered over savers and products by two large primes, the same every run.
    const k = removals++;
    const saver = (k * 7919) % savers;
    const product = (k * 104_729) % PRODUCTS;
    return { n, text: removalCall(ledger.idOf(n), saver, product, new Date()) };
  };
  const nextCalls = (count: number) => {
    const drawn = Array.from({ length: count }, nextCall);
    return { numbers: drawn.map((c) => c.n), texts: drawn.map((c) => c.text) };
  };
  return (index) => {
    const position = index % CYCLE_REQUESTS;
    if (position === 0) {
      const { numbers, texts } = nextCalls(MIX.batchCalls);
      return acknowledged(options, numbers, () => postBatch(client, texts));
    }
    if (position === Math.floor(CYCLE_REQUESTS / 2)) {
      const { numbers, texts } = nextCalls(MIX.webhookBatchCalls);
      return acknowledged(options, numbers, () =>
        postWebhookArray(client, texts),
      );
    }
    const { n, text } = nextCall();
    return acknowledged(options, [n], () => postWebhook(client, text));
  };
}

/** The open loop's `send` for sales: sale `index` puts product `index` on sale. */
export function saleSender(options: TrafficOptions): Send {
  return (index) => {
    const n = options.ledger.issue();
    const text = saleCall(options.ledger.idOf(n), index, new Date());
    return acknowledged(options, [n], () => postWebhook(options.client, text));
  };
}
