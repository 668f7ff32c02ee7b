// The queue's health from Prometheus' /metrics, in the words of the people who run the
// campaigns rather than the metric names.

import { metrics } from "./api.js";
import { count, element, seconds } from "./dom.js";

const FIGURES = [
  ["nudge_delivery_due", "Pushes due now, not yet picked up", count],
  ["nudge_delivery_due_age_seconds", "Longest a due push has waited", seconds],
  [
    "nudge_planner_pending_matches",
    "Triggered events still being planned",
    count,
  ],
  ["nudge_planner_lag_seconds", "Planning is behind by", seconds],
];

const PROVIDERS = {
  apns: "Apple (iOS) pushes being sent",
  fcm: "Android pushes being sent",
  webpush: "Web pushes being sent",
  log: "Pushes printed to the log (no push credentials set)",
};

export async function queueView() {
  const values = await metrics();
  const list = element("dl", { id: "queue-figures" });
  const figure = (label, value) =>
    list.append(
      element("div", {}, element("dt", {}, label), element("dd", {}, value)),
    );
  for (const [name, label, format] of FIGURES)
    figure(label, format(values.get(name) ?? 0));
  for (const [series, depth] of values) {
    const provider = /^nudge_provider_queue_depth\{provider="(\w+)"\}$/.exec(
      series,
    );
    if (provider)
      figure(
        PROVIDERS[provider[1]] ?? `${provider[1]} pushes being sent`,
        count(depth),
      );
  }
  return element(
    "section",
    { id: "queue", class: "card", "aria-labelledby": "queue-title" },
    element("h2", { id: "queue-title" }, "Sending right now"),
    list,
  );
}
