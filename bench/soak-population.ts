/**
 * What the soak's sales fan out to, and the calls of its own: savers seeded set-based
 * in SQL before Nudge starts (a shop with a past), the rules they are sent by, the
 * merchant's sales and the savers' wishlist removals.
 */
import { sql, type Kysely } from "kysely";
import type { DB } from "../src/db/schema.ts";
import { RULE_ID } from "./fanout-audience.ts";
import { benchRules, type BenchRules } from "./fanout-run-support.ts";
import { PRODUCTS } from "./ingest-traffic.ts";
import { productId } from "./segment-events.ts";

/**
 * Share of the savers who saved a product: from 1.5% to 15% depending on the product,
 * so that a sale reaches from hundreds to a few thousand of 20,000 savers.
 */
const SAVED_SHARE = { min: 0.015, max: 0.15 } as const;

/** The seeded saver number `index`. */
export const saverId = (index: number): string =>
  `saver-${String(index).padStart(6, "0")}`;

/**
 * `savers` users with a profile (a first name each, `de-DE` for 1 in 3, five
 * timezones) and ONE active device (APNs for even ones, FCM for odd ones), who saved
 * the catalogue's products in the `wishlist` collection, each product by its own share
 * of them (see SAVED_SHARE), drawn by a hash so every run seeds the same rows.
 */
export async function seedSavers(
  db: Kysely<DB>,
  savers: number,
): Promise<{ savedItems: number }> {
  const userId = sql`'saver-' || lpad(i::text, 6, '0')`;
  const series = sql`generate_series(0, ${savers - 1}::int) as i`;
  await sql`
    insert into profiles (user_id, traits, timezone, locale, push_opt_out, created_at, updated_at)
    select ${userId}, jsonb_build_object('first_name', 'Saver' || i),
      (array['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney', 'UTC'])[1 + i % 5],
      case when i % 3 = 0 then 'de-DE' else 'en-US' end, false, now(), now()
    from ${series}`.execute(db);
  await sql`
    insert into devices (user_id, device_id, platform, token, status, created_at, updated_at)
    select ${userId}, 'soak-device-' || i,
      case when i % 2 = 0 then 'apns' else 'fcm' end,
      case when i % 2 = 0 then md5('soak-apns' || i) || md5(i::text)
        else 'soak-' || md5(i::text) || ':APA91b' end,
      'active', now(), now()
    from ${series}`.execute(db);
  const { min, max } = SAVED_SHARE;
  // The share of product p steps through 100 levels in a scattered order (p × 37 mod 100).
  const share = sql`(${min}::float8 + (${max}::float8 - ${min}::float8) * ((p * 37) % 100) / 99.0)`;
  const result = await sql`
    insert into saved_items (user_id, collection, item_key, properties, saved_at)
    select ${userId}, 'wishlist', 'prod-' || lpad(p::text, 5, '0'),
      jsonb_build_object('name', 'Product ' || p), now()
    from ${series} cross join generate_series(0, ${PRODUCTS - 1}::int) as p
    where (hashtext(i || '/' || p) & 65535) < ${share} * 65536`.execute(db);
  // Now rather than by autovacuum in the first minutes: statistics, visibility maps.
  await sql`vacuum analyze`.execute(db);
  return { savedItems: Number(result.numAffectedRows ?? 0n) };
}

/**
 * examples/rules.json as the fan-out benchmark runs it (no quiet hours, no holdout: every
 * saver is due at once, whatever the time of the run), with a frequency cap of 50 a
 * day instead of 3: a saver is in several of the soak's sales, and a cap of 3 would
 * stop the fan-outs after the first minutes. The cap is still checked for every push.
 */
export async function soakRules(): Promise<BenchRules> {
  const rules = await benchRules();
  rules.settings.frequencyCap = { max: 50, per: "1d" };
  if (!rules.rules.some((rule) => rule.id === RULE_ID))
    throw new Error(`examples/rules.json has no ${RULE_ID} rule`);
  return rules;
}

/** The merchant's `Product Updated` with `on_sale: true` for sale number `sale`: the trigger of RULE_ID. */
export function saleCall(messageId: string, sale: number, at: Date): string {
  const product = sale % PRODUCTS;
  return JSON.stringify({
    messageId,
    type: "track",
    userId: "merchant-1",
    event: "Product Updated",
    properties: {
      product_id: productId(product),
      name: `Product ${String(product)}`,
      price: 9.99 + (product % 40),
      image_url: `https://cdn.example.com/p/${productId(product)}.jpg`,
      on_sale: true,
    },
    timestamp: at.toISOString(),
  });
}

/** A seeded saver taking a product off their wishlist (whether they saved it or not). */
export function removalCall(
  messageId: string,
  saver: number,
  product: number,
  at: Date,
): string {
  return JSON.stringify({
    messageId,
    type: "track",
    userId: saverId(saver),
    event: "Product Removed from Wishlist",
    properties: { product_id: productId(product) },
    context: { library: { name: "analytics-swift", version: "1.5.11" } },
    timestamp: at.toISOString(),
  });
}
