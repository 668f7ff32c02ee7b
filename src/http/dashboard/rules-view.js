// The overview: every rule on one page, each with its figures over the range, its
// trend, what waits now and its switch. All rules come from one stats request
// (groupBy=rule,<bucket>) and one waiting request, however many rules there are.

import { timeSeriesChart } from "./charts.js";
import { count, element, percent } from "./dom.js";
import { bucketsOf } from "./range.js";
import { ruleSwitch } from "./rule-switch.js";
import { triggerInWords } from "./rule-words.js";
import { waitingLine } from "./waiting.js";

const FIGURES = [
  "triggered",
  "suppressed",
  "sent",
  "failed",
  "opened",
  "converted",
];

/** Each rule's groups by bucket key, and its totals over the range. */
export function seriesByRule(stats) {
  const byRule = new Map();
  for (const group of stats.groups) {
    const entry = byRule.get(group.ruleId) ?? {
      points: new Map(),
      totals: emptyTotals(),
    };
    entry.points.set(group.group, group);
    addTo(entry.totals, group);
    byRule.set(group.ruleId, entry);
  }
  return byRule;
}

function emptyTotals() {
  return {
    triggered: 0,
    targeted: 0,
    sent: 0,
    opened: 0,
    converted: 0,
    received: 0,
    queued: 0,
    suppressed: { total: 0, byReason: {} },
    failed: { total: 0, byReason: {} },
  };
}

function addTo(totals, group) {
  for (const key of [
    "triggered",
    "targeted",
    "sent",
    "opened",
    "converted",
    "received",
    "queued",
  ])
    totals[key] += group[key];
  for (const key of ["suppressed", "failed"]) {
    totals[key].total += group[key].total;
    for (const [reason, n] of Object.entries(group[key].byReason))
      totals[key].byReason[reason] = (totals[key].byReason[reason] ?? 0) + n;
  }
}

const figureOf = (totals, key) =>
  typeof totals[key] === "object" ? totals[key].total : totals[key];

/** The figures of a rule as a definition list; rates beside opens and conversions. */
export function figures(totals) {
  const rate = { opened: totals.sent, converted: totals.sent };
  return element(
    "dl",
    { class: "figures-row" },
    FIGURES.map((key) =>
      element(
        "div",
        { "data-step": key },
        element("dt", {}, key[0].toUpperCase() + key.slice(1)),
        element(
          "dd",
          {},
          element("span", { class: "num" }, count(figureOf(totals, key))),
          key in rate && totals.sent > 0
            ? element(
                "span",
                { class: "rate" },
                ` ${percent(totals[key] / rate[key])} of sent`,
              )
            : null,
        ),
      ),
    ),
  );
}

/** A rule with nothing in the range: no points, every figure zero. */
export const emptySeries = () => ({ points: new Map(), totals: emptyTotals() });

/** The overview section: one card per rule. */
export function rulesOverview(state, rerender) {
  const { rules } = state.document;
  const section = element(
    "section",
    { id: "rules", "aria-labelledby": "rules-title" },
    element(
      "h2",
      { id: "rules-title", tabindex: "-1" },
      `Rules (${rules.length})`,
    ),
  );
  const keys = bucketsOf(state.range);
  for (const rule of rules)
    section.append(ruleCard(state, rule, keys, rerender));
  if (rules.length === 0)
    section.append(
      element(
        "p",
        { class: "empty" },
        "No rules yet: add them in the rules file or through PUT /v1/rules.",
      ),
    );
  return section;
}

function ruleCard(state, rule, keys, rerender) {
  const series = state.series.get(rule.id) ?? emptySeries();
  return element(
    "article",
    {
      class: "card rule-card",
      "data-rule": rule.id,
      "aria-labelledby": `rule-title-${rule.id}`,
    },
    element(
      "header",
      { class: "rule-head" },
      element(
        "h3",
        { id: `rule-title-${rule.id}` },
        element("a", { href: `#rule/${encodeURIComponent(rule.id)}` }, rule.id),
      ),
      rule.enabled === false
        ? element("span", { class: "badge off" }, "Off: sends nothing")
        : null,
      ruleSwitch(rule, state, rerender),
    ),
    element("p", { class: "trigger" }, triggerInWords(rule.trigger)),
    figures(series.totals),
    waitingLine(state.waiting.get(rule.id), state.now),
    timeSeriesChart({
      title: `${rule.id}, ${state.rangeText}`,
      keys,
      points: series.points,
      bucket: state.range.bucket,
      compact: true,
    }),
  );
}
