// Nudge's dashboard: plain browser modules, no build step. It reads the admin API with
// the token the user types (kept in this tab's sessionStorage only). Each view costs a
// fixed number of requests however many rules there are: the rules, one stats request
// for every rule's trend (groupBy=rule,<hour|day>), one for what waits, the metrics.

import { api, token } from "./api.js";
import { $, announce, element } from "./dom.js";
import { queueView } from "./queue-view.js";
import { describeRange, rangeOf } from "./range.js";
import { ruleDetail } from "./rule-detail.js";
import { rulesOverview, seriesByRule } from "./rules-view.js";
import { waitingByRule } from "./waiting.js";

const state = { choice: { preset: "7d" } };

async function load() {
  state.range = rangeOf(state.choice);
  state.rangeText = describeRange(state.range);
  const { from, to, bucket } = state.range;
  const query = new URLSearchParams({
    groupBy: `rule,${bucket}`,
    from: from.toISOString(),
    to: to.toISOString(),
  });
  const [rules, stats, waiting] = await Promise.all([
    api("/v1/rules"),
    api(`/v1/stats?${query}`),
    api("/v1/notifications/waiting"),
  ]);
  state.document = rules.body;
  state.etag = rules.etag;
  state.series = seriesByRule(stats.body);
  state.waiting = waitingByRule(waiting.body.waiting);
  state.now = new Date(waiting.body.now).getTime();
}

/** Shows the view the address names: the overview, or one rule (#rule/<id>). */
async function render({ keepMessage, focus } = {}) {
  const main = $("view");
  const id = /^#rule\/(.+)$/.exec(location.hash)?.[1];
  const rule =
    id && state.document.rules.find((r) => r.id === decodeURIComponent(id));
  if (rule) {
    main.replaceChildren(ruleDetail(state, rule, rerender));
    document.title = `${rule.id} · Nudge`;
  } else {
    main.replaceChildren(
      element(
        "div",
        { class: "overview" },
        await queueView().catch(() =>
          element(
            "p",
            { class: "error" },
            "The queue's metrics could not be read.",
          ),
        ),
        rulesOverview(state, rerender),
      ),
    );
    document.title = "Nudge";
  }
  // Only now, with the figures it names shown: the queue's metrics are read above.
  $("window").textContent = state.rangeText;
  if (keepMessage)
    $(`switch-error-${keepMessage.ruleId}`).textContent = keepMessage.text;
  if (focus) document.querySelector(focus)?.focus();
}

/** After a switch: read the rules and figures again, and keep the focus on the switch. */
function rerender({ focusSwitch, keepMessage } = {}) {
  return refresh({
    keepMessage,
    focus: focusSwitch && `[data-switch="${CSS.escape(focusSwitch)}"]`,
  });
}

/**
 * Reads everything again and shows it. A failure is said above the figures, which stay
 * as they were; a token no longer accepted (ADMIN_TOKEN changed) asks for it again.
 */
async function refresh(options = {}) {
  $("load-error").textContent = "";
  try {
    await load();
    await render(options);
    return true;
  } catch (error) {
    if (error.code === "unauthorized") {
      signedOut("The admin token changed: give the new one.");
      return false;
    }
    $("load-error").textContent =
      `The figures could not be read again: ${error.message}`;
    return false;
  }
}

function signedOut(message) {
  token.clear();
  $("sign-in").hidden = false;
  $("range").hidden = true;
  $("sign-out").hidden = true;
  $("view").replaceChildren();
  $("sign-in-error").textContent = message;
}

async function show() {
  try {
    await load();
  } catch (error) {
    signedOut(
      error.code === "unauthorized"
        ? "That token is not the admin token."
        : `The dashboard could not be read: ${error.message}`,
    );
    return;
  }
  // Before the figures appear, so that no one sees the form beside them.
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("range").hidden = false;
  await render();
}

function readRangeForm() {
  const preset = new FormData($("range")).get("preset");
  state.choice = {
    preset,
    fromDay: $("from-day").value,
    toDay: $("to-day").value,
  };
  $("custom-days").hidden = preset !== "custom";
}

$("range").addEventListener("change", (event) => {
  readRangeForm();
  if (event.target.name === "preset" && state.choice.preset !== "custom")
    void changeRange();
});
$("range").addEventListener("submit", (event) => {
  event.preventDefault();
  readRangeForm();
  if (
    !state.choice.fromDay ||
    !state.choice.toDay ||
    state.choice.fromDay > state.choice.toDay
  ) {
    $("load-error").textContent =
      "Choose a first day on or before the last day.";
    return;
  }
  void changeRange();
});

async function changeRange() {
  if (await refresh()) announce(`Showing ${state.rangeText}.`);
}

window.addEventListener("hashchange", () => {
  if (!state.document) return;
  void render({
    focus: location.hash.startsWith("#rule/")
      ? "#detail-title"
      : "#rules-title",
  });
});

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  token.set($("token").value);
  void show();
});
$("sign-out").addEventListener("click", () => {
  token.clear();
  location.hash = "";
  location.reload();
});

const today = new Date().toISOString().slice(0, 10);
$("to-day").value = today;
$("from-day").value = new Date(Date.now() - 6 * 86_400_000)
  .toISOString()
  .slice(0, 10);
if (token.get()) void show();
else $("sign-in").hidden = false;
