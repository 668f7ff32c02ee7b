// What waits now for a rule, from GET /v1/notifications/waiting: how many, held by
// what, and when they fall due.

import { count, element, fromNow, reasonText, when } from "./dom.js";

/** The waiting groups of each rule. */
export function waitingByRule(waiting) {
  const byRule = new Map();
  for (const w of waiting) {
    const list = byRule.get(w.ruleId) ?? [];
    list.push(w);
    byRule.set(w.ruleId, list);
  }
  return byRule;
}

const holdOf = (w) =>
  w.retrying
    ? "Retrying after a failed attempt"
    : w.deferredBy.length === 0
      ? "Due now, waiting for a sender"
      : w.deferredBy.map(reasonText).join(" + ");

/** One line for a rule's card: "3 waiting · Waiting for the rule's delay · next in 45 min". */
export function waitingLine(groups = [], now) {
  const total = groups.reduce((sum, w) => sum + w.count, 0);
  if (total === 0)
    return element(
      "p",
      { class: "waiting none", "data-waiting": "0" },
      "Nothing waiting to be sent.",
    );
  const next = groups.reduce((a, b) => (a.nextDueAt < b.nextDueAt ? a : b));
  const holds = [...new Set(groups.map(holdOf))].join("; ");
  return element(
    "p",
    { class: "waiting", "data-waiting": String(total) },
    element("strong", {}, `${count(total)} waiting`),
    ` · ${holds} · next ${fromNow(next.nextDueAt, now)} (${when(next.nextDueAt)})`,
  );
}

/** The detail view's table: one row per hold, with the first and last due time. */
export function waitingTable(groups = [], now) {
  const box = element(
    "section",
    { class: "card", "aria-labelledby": "waiting-title" },
    element("h3", { id: "waiting-title" }, "Waiting now"),
  );
  if (groups.length === 0) {
    box.append(element("p", { class: "empty" }, "Nothing waiting to be sent."));
    return box;
  }
  box.append(
    element(
      "table",
      { "data-waiting-table": "" },
      element(
        "tr",
        {},
        ["Held by", "Pushes", "First due", "Last due"].map((h) =>
          element("th", { scope: "col" }, h),
        ),
      ),
      groups.map((w) =>
        element(
          "tr",
          {
            "data-hold":
              w.deferredBy.join(",") || (w.retrying ? "retrying" : "due"),
          },
          element("td", {}, holdOf(w)),
          element("td", {}, count(w.count)),
          element(
            "td",
            {},
            `${when(w.nextDueAt)} (${fromNow(w.nextDueAt, now)})`,
          ),
          element("td", {}, when(w.lastDueAt)),
        ),
      ),
    ),
  );
  return box;
}
