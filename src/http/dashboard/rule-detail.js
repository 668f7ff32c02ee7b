// One rule in full: what it says (trigger, audience, timing, each message as written),
// its trend and funnel over the range, why pushes were not sent or failed, what waits
// now, its variants, and a preview. Its figures come from the overview's one stats
// request; only the variants need one more, for this rule.

import { api } from "./api.js";
import { reasonBars, timeSeriesChart } from "./charts.js";
import { element } from "./dom.js";
import { previewView } from "./preview-view.js";
import { bucketsOf } from "./range.js";
import { ruleSwitch } from "./rule-switch.js";
import { messagesOf, ruleDefinition } from "./rule-words.js";
import { emptySeries, figures } from "./rules-view.js";
import { variantsView } from "./variants-view.js";
import { waitingTable } from "./waiting.js";

export function ruleDetail(state, rule, rerender) {
  const series = state.series.get(rule.id) ?? emptySeries();
  const variants = element(
    "div",
    { id: "variants-slot" },
    element("p", { class: "note" }, "Loading the variants…"),
  );
  const view = element(
    "article",
    {
      id: "rule-detail",
      "data-rule": rule.id,
      "aria-labelledby": "detail-title",
    },
    element("p", {}, element("a", { href: "#", class: "back" }, "← All rules")),
    element(
      "header",
      { class: "rule-head card" },
      element("h2", { id: "detail-title", tabindex: "-1" }, rule.id),
      rule.enabled === false
        ? element("span", { class: "badge off" }, "Off: sends nothing")
        : null,
      ruleSwitch(rule, state, rerender),
    ),
    element(
      "div",
      { class: "detail-grid" },
      element(
        "section",
        { class: "card", "aria-labelledby": "what-title" },
        element("h3", { id: "what-title" }, "What it does"),
        ruleDefinition(rule, state.document.settings ?? {}),
      ),
      trendSection(state, rule, series),
      waitingTable(state.waiting.get(rule.id), state.now),
      notSentSection(series.totals),
      messagesTable(rule),
      variants,
      previewView(rule, state.document.rules),
    ),
  );
  void loadVariants(state, rule, variants);
  return view;
}

function trendSection(state, rule, series) {
  return element(
    "section",
    { class: "card", "aria-labelledby": "trend-title" },
    element("h3", { id: "trend-title" }, "Over time"),
    figures(series.totals),
    timeSeriesChart({
      title: `${rule.id} over time`,
      keys: bucketsOf(state.range),
      points: series.points,
      bucket: state.range.bucket,
    }),
  );
}

function notSentSection(totals) {
  return element(
    "section",
    { class: "card", "aria-labelledby": "not-sent-title" },
    element("h3", { id: "not-sent-title" }, "Why pushes were not sent"),
    reasonBars(
      "Suppressed (decided not to send)",
      totals.suppressed.byReason,
      "None suppressed in this range.",
    ),
    reasonBars(
      "Failed (a send was tried)",
      totals.failed.byReason,
      "None failed in this range.",
    ),
  );
}

async function loadVariants(state, rule, slot) {
  const { from, to } = state.range;
  const query = new URLSearchParams({
    ruleId: rule.id,
    groupBy: "variant",
    from: from.toISOString(),
    to: to.toISOString(),
  });
  try {
    const { body } = await api(`/v1/stats?${query}`);
    slot.replaceChildren(variantsView(rule, body));
  } catch (error) {
    slot.replaceChildren(
      element(
        "p",
        { role: "alert", class: "error" },
        `The variants could not be read: ${error.message}`,
      ),
    );
  }
}

/** Each variant's message in each locale, as written (Liquid tags and all). */
function messagesTable(rule) {
  const rows = messagesOf(rule);
  const hasVariants = rule.variants !== undefined;
  return element(
    "section",
    { class: "card messages", "aria-labelledby": "messages-title" },
    element("h3", { id: "messages-title" }, "Messages as written"),
    element(
      "p",
      { class: "note" },
      "{{ … }} is filled in for each user when the push is planned.",
    ),
    element(
      "table",
      { "data-messages": "" },
      element(
        "tr",
        {},
        [hasVariants ? "Variant" : null, "Language", "Title", "Body", "Opens"]
          .filter(Boolean)
          .map((h) => element("th", { scope: "col" }, h)),
      ),
      rows.map((row) =>
        element(
          "tr",
          { "data-message": `${row.variant ?? ""}/${row.locale}` },
          hasVariants ? element("td", {}, row.variant) : null,
          element("td", {}, row.locale),
          element("td", {}, element("code", {}, row.title ?? "")),
          element("td", {}, element("code", {}, row.body ?? "")),
          element("td", {}, element("code", {}, row.deepLink ?? "–")),
        ),
      ),
    ),
  );
}
