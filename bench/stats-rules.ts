/*
 * The rules in force during the stats benchmark: five rules, one of them measured.
 */

/** The rule measured: a wishlist sale with two variants, a 5% holdout and a conversion. */
export const MEASURED_RULE = "wishlist-on-sale";

const message = (title: string) => ({
  title,
  body: 'Hi {{ profile.traits.first_name | default: "there" }}, now {{ event.properties.price }}',
  deepLink: "shop://product/{{ event.properties.product_id }}",
});

/** The rules in force; the stats read their variants, holdout and conversion. */
export const STATS_RULES = {
  settings: {
    quietHours: { start: "21:00", end: "08:00" },
    frequencyCap: { max: 3, per: "1d" },
    categories: { promotions: { default: "in" }, orders: { default: "in" } },
  },
  collections: [
    {
      name: "wishlist",
      key: "properties.product_id",
      add: 'event = "Product Added to Wishlist"',
    },
  ],
  rules: [
    {
      id: MEASURED_RULE,
      trigger: 'event = "Product Updated" and properties.on_sale = true',
      audience: { collection: "wishlist", key: "properties.product_id" },
      category: "promotions",
      message: message("{{ event.properties.name }} is on sale"),
      variants: [
        { id: "a", weight: 50 },
        { id: "b", weight: 50, message: { title: "Price drop!" } },
      ],
      holdout: 0.05,
      delivery: { dedupe: "24h", ttl: "12h" },
      conversion: { event: "Order Completed", within: "24h" },
    },
    {
      id: "back-in-stock",
      trigger: 'event = "Product Updated" and properties.in_stock = true',
      audience: { collection: "wishlist", key: "properties.product_id" },
      category: "promotions",
      message: message("{{ event.properties.name }} is back"),
    },
    {
      id: "price-alert",
      trigger: 'event = "Price Alert"',
      audience: { where: "traits.price_alerts = true" },
      category: "promotions",
      message: message("Prices are falling"),
    },
    {
      id: "cart-abandoned",
      trigger: 'event = "Product Added"',
      category: "orders",
      delivery: { delay: "1h", cancelIf: 'event = "Order Completed"' },
      message: message("Still thinking about it?"),
    },
    {
      id: "order-shipped",
      trigger: 'event = "Order Shipped"',
      category: "orders",
      delivery: { quietHours: false },
      message: message("Your order is on its way"),
    },
  ],
} as const;
