import { randomUUID } from "node:crypto";
import { seededRandom } from "../test/support/seeded-random.ts";

/**
 * Realistic Segment calls from a mobile app, as Segment forwards them: a fixed pool of
 * users, each with one device, timezone and locale; identify, screen and product track
 * calls in proportions like a shop's. Generated from a seed, so Nudge and the baseline
 * receive the same sequence of calls.
 */
export type EventSource = {
  /**
   * The next call as JSON text, with a messageId never handed out before, or with
   * `messageId` (a caller that keeps track of the ids it sent).
   */
  next(messageId?: string): string;
};

type User = {
  userId: string;
  anonymousId: string;
  ios: boolean;
  token: string;
  timezone: string;
  locale: string;
  firstName: string;
};

type Product = {
  product_id: string;
  sku: string;
  name: string;
  brand: string;
  category: string;
  price: number;
};

const TIMEZONES = [
  "Europe/Berlin",
  "Europe/London",
  "America/New_York",
  "America/Los_Angeles",
  "Asia/Tokyo",
  "Australia/Sydney",
];
const LOCALES = ["en-US", "en-GB", "de-DE", "de-AT", "fr-FR", "ja-JP"];
const FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken"];
const CATEGORIES = ["Shoes", "Jackets", "Bags", "Watches", "Knitwear"];
const BRANDS = ["Northwind", "Contoso", "Fabrikam", "Tailspin"];

type Random = ReturnType<typeof seededRandom>;

const pick = <T>(random: Random, list: readonly T[]): T =>
  list[Math.floor(random() * list.length)] as T;

const hex = (random: Random, length: number): string =>
  Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join("");

function createUser(random: Random, index: number): User {
  const ios = random() < 0.5;
  return {
    userId: `user-${String(index).padStart(6, "0")}`,
    anonymousId: `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12)}`,
    ios,
    // APNs tokens are 64 hex characters; FCM registration tokens are longer and opaque.
    token: ios
      ? hex(random, 64)
      : `${hex(random, 22)}:APA91b${hex(random, 134)}`,
    timezone: pick(random, TIMEZONES),
    locale: pick(random, LOCALES),
    firstName: pick(random, FIRST_NAMES),
  };
}

/** The `product_id` of product number `index` of a source's catalogue. */
export function productId(index: number): string {
  return `prod-${String(index).padStart(5, "0")}`;
}

function createProduct(random: Random, index: number): Product {
  const category = pick(random, CATEGORIES);
  return {
    product_id: productId(index),
    sku: `SKU-${hex(random, 8).toUpperCase()}`,
    name: `${pick(random, BRANDS)} ${category} ${index}`,
    brand: pick(random, BRANDS),
    category,
    price: Math.round(random() * 20_000) / 100 + 5,
  };
}

/** What a mobile SDK puts in every call's context; some calls carry the push token. */
function mobileContext(random: Random, user: User): Record<string, unknown> {
  return {
    app: { name: "Shop", version: "5.12.0", build: "5120" },
    device: {
      id: user.anonymousId,
      manufacturer: user.ios ? "Apple" : "Google",
      model: user.ios ? "iPhone15,2" : "Pixel 8",
      type: user.ios ? "ios" : "android",
      ...(random() < 0.3 ? { token: user.token } : {}),
    },
    library: user.ios
      ? { name: "analytics-swift", version: "1.5.11" }
      : { name: "analytics-kotlin", version: "1.16.0" },
    os: user.ios
      ? { name: "iOS", version: "17.4.1" }
      : { name: "Android", version: "14" },
    network: { wifi: random() < 0.6, cellular: true, carrier: "Carrier" },
    locale: user.locale,
    timezone: user.timezone,
    ip: `10.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`,
  };
}

function callBody(
  random: Random,
  user: User,
  product: Product,
): Record<string, unknown> {
  const roll = random();
  if (roll < 0.2) {
    return {
      type: "identify",
      traits: {
        first_name: user.firstName,
        last_name: "Example",
        email: `${user.userId}@example.com`,
        plan: pick(random, ["free", "plus", "premium"]),
        city: "Berlin",
        promotions_opt_in: random() < 0.9,
        created_at: "2024-03-01T10:00:00.000Z",
      },
    };
  }
  if (roll < 0.3) {
    return {
      type: "screen",
      name: "Product Detail",
      properties: { product_id: product.product_id },
    };
  }
  const event =
    roll < 0.75
      ? "Product Viewed"
      : roll < 0.9
        ? "Product Added to Wishlist"
        : "Product Added";
  return {
    type: "track",
    event,
    properties: {
      ...product,
      currency: "EUR",
      quantity: 1,
      image_url: `https://cdn.example.com/p/${product.product_id}.jpg`,
    },
  };
}

/**
 * A pool of pre-serialized calls, cycled with fresh messageIds: cheap for the load
 * generator. Sources with the same `seed` share one population of users and products;
 * `stream` picks a different sequence of calls from it.
 */
export function createEventSource(options: {
  users: number;
  products: number;
  poolSize: number;
  seed: number;
  stream: number;
}): EventSource {
  const population = seededRandom(options.seed);
  const users = Array.from({ length: options.users }, (_, i) =>
    createUser(population, i),
  );
  const products = Array.from({ length: options.products }, (_, i) =>
    createProduct(population, i),
  );
  const random = seededRandom(options.seed + 1 + options.stream);
  const now = Date.now();
  const pool = Array.from({ length: options.poolSize }, () => {
    const user = pick(random, users);
    const call = {
      ...callBody(random, user, pick(random, products)),
      userId: user.userId,
      anonymousId: user.anonymousId,
      context: mobileContext(random, user),
      integrations: {},
      timestamp: new Date(now - Math.floor(random() * 60_000)).toISOString(),
    };
    // Everything after the opening brace, so a messageId can be put in front.
    return JSON.stringify(call).slice(1);
  });
  const prefix = randomUUID();
  let count = 0;
  return {
    next(messageId = `${prefix}-${String(count)}`) {
      const body = pool[count++ % pool.length] ?? "}";
      return `{"messageId":${JSON.stringify(messageId)},${body}`;
    },
  };
}
