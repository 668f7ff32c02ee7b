// Charts as inline SVG, each with its figures as a table beside it for screen readers
// and for anyone who wants the numbers: no charting library, no build step.

import { count, element, percent, reasonText, svg } from "./dom.js";
import { bucketLabel } from "./range.js";

/**
 * Stacked bars (what became of each push planned in the bucket, those still waiting
 * included) and lines (what users did), per bucket.
 */
const BARS = [
  ["sent", "Sent", "var(--sent)"],
  ["suppressed", "Suppressed", "var(--suppressed)"],
  ["failed", "Failed", "var(--failed)"],
  ["queued", "Waiting", "var(--queued)"],
];
const LINES = [
  ["opened", "Opened", "var(--opened)"],
  ["converted", "Converted", "var(--converted)"],
];

const valueOf = (point, key) =>
  typeof point[key] === "object" ? point[key].total : point[key];

/**
 * The time series of one rule: `points` maps each bucket key to its group of the stats
 * API (missing buckets count zero).
 */
export function timeSeriesChart({
  title,
  keys,
  points,
  bucket,
  compact = false,
}) {
  const rows = keys.map((key) => points.get(key) ?? {});
  const frame = frameOf(rows, compact);
  const chart = svg("svg", {
    viewBox: `0 0 ${frame.width} ${frame.height}`,
    class: "chart",
    role: "img",
    "aria-label": `${title}: ${summaryOf(rows)}`,
    preserveAspectRatio: "none",
  });
  drawBars(chart, rows, frame);
  drawLines(chart, rows, frame);
  if (!compact) drawAxes(chart, keys, bucket, frame);
  return element(
    "figure",
    { class: compact ? "series compact" : "series" },
    chart,
    compact ? null : legend(),
    compact ? null : figuresTable(title, keys, rows, bucket),
  );
}

/**
 * The chart's size and scale: the top of the axis fits the tallest bar and the most
 * opened, and each bucket gets an equal step of the width.
 */
function frameOf(rows, compact) {
  const width = 640;
  const height = compact ? 90 : 180;
  const pad = { left: compact ? 4 : 36, bottom: compact ? 4 : 20, top: 8 };
  const total = (row) =>
    BARS.reduce((sum, [key]) => sum + (valueOf(row, key) ?? 0), 0);
  const top = Math.max(
    1,
    ...rows.map(total),
    ...rows.map((r) => r.opened ?? 0),
  );
  const plotHeight = height - pad.top - pad.bottom;
  const step = (width - pad.left) / Math.max(1, rows.length);
  const y = (value) => pad.top + plotHeight - (value / top) * plotHeight;
  return { width, height, pad, top, step, y };
}

function drawBars(chart, rows, { pad, step, y }) {
  rows.forEach((row, i) => {
    let base = 0;
    for (const [key, , colour] of BARS) {
      const value = valueOf(row, key) ?? 0;
      if (value === 0) continue;
      chart.append(
        svg("rect", {
          x: pad.left + i * step + step * 0.15,
          width: step * 0.7,
          y: y(base + value),
          height: y(base) - y(base + value),
          fill: colour,
        }),
      );
      base += value;
    }
  });
}

function drawLines(chart, rows, { pad, step, y }) {
  for (const [key, , colour] of LINES) {
    const path = rows
      .map(
        (row, i) =>
          `${i === 0 ? "M" : "L"}${pad.left + (i + 0.5) * step},${y(row[key] ?? 0)}`,
      )
      .join(" ");
    chart.append(
      svg("path", { d: path, fill: "none", stroke: colour, "stroke-width": 2 }),
    );
  }
}

/** The top and zero of the scale, and a label on at most about eight buckets. */
function drawAxes(chart, keys, bucket, { height, pad, top, step }) {
  chart.append(
    svg(
      "text",
      { x: 0, y: pad.top + 8, class: "axis" },
      document.createTextNode(count(top)),
    ),
    svg(
      "text",
      { x: 0, y: height - pad.bottom, class: "axis" },
      document.createTextNode("0"),
    ),
  );
  const every = Math.ceil(keys.length / 8);
  keys.forEach((key, i) => {
    if (i % every !== 0) return;
    chart.append(
      svg(
        "text",
        { x: pad.left + i * step, y: height - 4, class: "axis" },
        document.createTextNode(bucketLabel(key, bucket)),
      ),
    );
  });
}

function summaryOf(rows) {
  const sum = (key) => rows.reduce((s, r) => s + (valueOf(r, key) ?? 0), 0);
  return [...BARS, ...LINES]
    .map(([key, label]) => `${count(sum(key))} ${label.toLowerCase()}`)
    .join(", ");
}

function legend() {
  return element(
    "figcaption",
    { class: "legend" },
    [...BARS, ...LINES].map(([key, label, colour]) =>
      element(
        "span",
        { "data-series": key },
        element("i", { style: `background: ${colour}`, "aria-hidden": "true" }),
        label,
      ),
    ),
  );
}

function figuresTable(title, keys, rows, bucket) {
  const columns = [...BARS, ...LINES];
  return element(
    "details",
    { class: "figures" },
    element("summary", {}, "Figures as a table"),
    element(
      "table",
      {},
      element("caption", { class: "visually-hidden" }, title),
      element(
        "tr",
        {},
        element(
          "th",
          { scope: "col" },
          bucket === "hour" ? "Hour (UTC)" : "Day (UTC)",
        ),
        columns.map(([, label]) => element("th", { scope: "col" }, label)),
      ),
      keys.map((key, i) =>
        element(
          "tr",
          {},
          element(
            "th",
            { scope: "row" },
            bucket === "hour" ? key.slice(0, 16).replace("T", " ") : key,
          ),
          columns.map(([k]) =>
            element("td", {}, count(valueOf(rows[i], k) ?? 0)),
          ),
        ),
      ),
    ),
  );
}

/** Reasons (suppression or failure) as labelled horizontal bars, largest first. */
export function reasonBars(title, byReason, emptyText) {
  const entries = Object.entries(byReason).sort((a, b) => b[1] - a[1]);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const box = element("div", { class: "reasons" }, element("h4", {}, title));
  if (entries.length === 0) {
    box.append(element("p", { class: "empty" }, emptyText));
    return box;
  }
  box.append(
    element(
      "ul",
      {},
      entries.map(([reason, n]) =>
        element(
          "li",
          { "data-reason": reason },
          element("span", { class: "label" }, reasonText(reason)),
          element(
            "span",
            { class: "track", "aria-hidden": "true" },
            element("span", {
              class: "fill",
              style: `width: ${(100 * n) / total}%`,
            }),
          ),
          element(
            "span",
            { class: "num" },
            `${count(n)} (${percent(n / total)})`,
          ),
        ),
      ),
    ),
  );
  return box;
}
