// A rule's variants side by side: sample sizes next to every rate, the holdout's own
// conversion as the baseline, the automatic winner when there is one, and the p-value
// only once every arm has sent enough for it to mean something.

import { count, element, percent, when } from "./dom.js";

/**
 * Below this many pushes sent per arm, a p-value swings on one or two conversions and
 * reads as a verdict it is not; the table says so instead of showing it.
 */
export const MIN_SAMPLE = 100;

const rateCell = (part, whole, rate) =>
  element(
    "td",
    {},
    percent(rate),
    element(
      "span",
      { class: "sample" },
      ` (${count(part)} of ${count(whole)})`,
    ),
  );

export function variantsView(rule, stats) {
  const box = element(
    "section",
    { class: "card", "aria-labelledby": "variants-title", "data-variants": "" },
    element("h3", { id: "variants-title" }, "Variants"),
  );
  // In the rule's order: its first variant is the one the others are compared with.
  const order = (rule.variants ?? []).map((v) => v.id);
  const rank = (arm) =>
    order.includes(arm.group) ? order.indexOf(arm.group) : order.length;
  const arms = stats.groups
    .filter((g) => g.group !== "holdout" && g.group !== "none")
    .sort((a, b) => rank(a) - rank(b));
  if (arms.length === 0) {
    box.append(
      element("p", { class: "empty" }, "No pushes planned in this range."),
    );
    return box;
  }
  const smallest = Math.min(...arms.map((a) => a.sent));
  const enough = smallest >= MIN_SAMPLE;
  box.append(
    winnerNote(rule, stats.winner),
    variantsTable(rule, arms, stats.holdout, enough),
  );
  if (!enough && arms.length > 1)
    box.append(
      element(
        "p",
        { class: "note", "data-pvalue-hidden": "" },
        `p-values are hidden until every variant has sent ${MIN_SAMPLE} pushes (the smallest has ${count(smallest)}): with fewer, one or two conversions swing them, and a difference this small is noise as often as not.`,
      ),
    );
  return box;
}

function variantsTable(rule, arms, holdout, enough) {
  const weights = Object.fromEntries(
    (rule.variants ?? []).map((v) => [v.id, v.weight]),
  );
  const first = rule.variants?.[0]?.id;
  return element(
    "table",
    {},
    element(
      "caption",
      {},
      rule.variants?.length > 1
        ? `Each variant compared with the first, ${first}.`
        : "One message, no test.",
    ),
    element(
      "tr",
      {},
      ["Variant", "Sent", "Opened", "Converted", "Lift", "p-value"].map((h) =>
        element("th", { scope: "col" }, h),
      ),
    ),
    arms.map((arm) =>
      element(
        "tr",
        { "data-variant": arm.group },
        element(
          "th",
          { scope: "row" },
          arm.group,
          weights[arm.group] === undefined
            ? ""
            : element(
                "span",
                { class: "sample" },
                ` weight ${weights[arm.group]}`,
              ),
        ),
        element("td", {}, count(arm.sent)),
        rateCell(arm.opened, arm.sent, arm.rates.open),
        rateCell(arm.converted, arm.sent, arm.rates.conversion),
        element("td", {}, arm.group === first ? "baseline" : percent(arm.lift)),
        pValueCell(arm, arm.group === first, enough),
      ),
    ),
    holdoutRow(holdout),
  );
}

function pValueCell(arm, isFirst, enough) {
  if (isFirst) return element("td", {}, "–");
  if (!enough) return element("td", { class: "muted" }, "too few sent");
  if (arm.pValue === null || arm.pValue === undefined)
    return element("td", {}, "–");
  const significant = arm.pValue < 0.05;
  return element(
    "td",
    significant ? { class: "significant" } : {},
    arm.pValue.toFixed(3),
    significant ? " (significant)" : "",
  );
}

function holdoutRow(holdout) {
  if (!holdout) return null;
  return element(
    "tr",
    { "data-variant": "holdout" },
    element("th", { scope: "row" }, "Holdout (no push)"),
    element("td", {}, `${count(holdout.held)} held`),
    element("td", {}, "–"),
    rateCell(holdout.converted, holdout.held, holdout.conversionRate),
    element("td", {}, "baseline without a push"),
    element("td", {}, "–"),
  );
}

/** The auto-winner's state: running, won, ended without a winner, or not set up. */
function winnerNote(rule, winner) {
  if (winner === undefined) {
    return rule.variants?.length > 1
      ? element(
          "p",
          { class: "note" },
          "No automatic winner: the weights stay until you change them.",
        )
      : null;
  }
  if (winner === null)
    return element(
      "p",
      { class: "note", "data-winner": "running" },
      `Automatic winner: the test is running (first look at ${count(rule.autoWinner?.minSent ?? 1000)} sent per variant).`,
    );
  if (winner.variant === null)
    return element(
      "p",
      { class: "note", "data-winner": "none" },
      `Automatic winner: the test ended on ${when(winner.decidedAt)} without a winner; the weights stay.`,
    );
  return element(
    "p",
    { class: "note winner", "data-winner": winner.variant },
    element("strong", {}, `Variant ${winner.variant} won`),
    ` on ${when(winner.decidedAt)} (p = ${winner.figures?.pValue?.toPrecision(2) ?? "–"}); new recipients get it, except the holdout.`,
  );
}
