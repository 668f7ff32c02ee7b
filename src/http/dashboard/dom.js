// Building DOM nodes and formatting figures: what every view of the dashboard shares.

/** An element with attributes (`class`, `aria-*`, `on*` handlers) and children. */
export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "style") node.style.cssText = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== undefined && c !== null));
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element: charts are drawn inline, no library. */
export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

export const $ = (id) => document.getElementById(id);

const numbers = new Intl.NumberFormat("en");
export const count = (value) => numbers.format(value ?? 0);

export const percent = (value) =>
  value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;

export const seconds = (value) =>
  value < 120 ? `${value.toFixed(1)} s` : `${(value / 60).toFixed(1)} min`;

const dateTime = new Intl.DateTimeFormat("en", {
  dateStyle: "medium",
  timeStyle: "short",
});
export const when = (iso) => dateTime.format(new Date(iso));

/** "in 45 min", "in 3 h", "in 2 days" (or "now"): how far off a due time is. */
export function fromNow(iso, now = Date.now()) {
  const minutes = Math.round((new Date(iso).getTime() - now) / 60_000);
  if (minutes <= 0) return "now";
  if (minutes < 90) return `in ${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `in ${hours} h`;
  return `in ${Math.round(hours / 24)} days`;
}

const REASONS = {
  no_device: "No device registered",
  opted_out: "Opted out of all pushes",
  category_opted_out: "Opted out of this category",
  holdout: "Held out (control group)",
  duplicate: "Already sent for this item",
  frequency_cap: "Daily cap reached",
  rule_frequency_cap: "This rule's cap reached",
  expired: "Too late to send (ttl passed)",
  empty_message: "Message rendered empty",
  payload_too_large: "Message too large for the device",
  invalid_token: "Device no longer valid",
  provider_error: "Push service refused it",
  delay: "Waiting for the rule's delay",
  quiet_hours: "Quiet hours in the user's timezone",
  window: "Waiting for the delivery window",
};

/** A reason code in words; an unknown code is shown as it is, readably. */
export const reasonText = (code) =>
  REASONS[code] ??
  code.replaceAll("_", " ").replace(/^\w/, (c) => c.toUpperCase());

/** An announcement for screen readers (and a visible status line). */
export function announce(text) {
  const status = $("status");
  status.textContent = "";
  // A new text node after a clear: read again even when the text is the same.
  requestAnimationFrame(() => (status.textContent = text));
}
