// Nudge's dashboard: plain browser JavaScript, no build step. It reads the admin API
// with the token the user types (kept in this tab's sessionStorage only) and
// Prometheus' /metrics for the queue's health.

const TOKEN_KEY = "nudge-admin-token";
const FUNNEL = [
  ["triggered", "Triggered"],
  ["targeted", "Targeted"],
  ["sent", "Sent"],
  ["received", "Received"],
  ["opened", "Opened"],
  ["converted", "Converted"],
];
const QUEUE = [
  ["nudge_delivery_due", "Due, not yet claimed", count],
  ["nudge_delivery_due_age_seconds", "Oldest due waits", seconds],
  ["nudge_planner_pending_matches", "Matches to plan", count],
  ["nudge_planner_lag_seconds", "Planner lag", seconds],
];

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "style") node.style.cssText = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function count(value) {
  return new Intl.NumberFormat("en").format(value);
}

function seconds(value) {
  return value < 120
    ? `${value.toFixed(1)} s`
    : `${(value / 60).toFixed(1)} min`;
}

function percent(value) {
  return value === null || value === undefined
    ? "–"
    : `${(100 * value).toFixed(1)}%`;
}

async function api(path) {
  const response = await fetch(path, {
    headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` },
  });
  if (response.status === 401) throw new Error("unauthorized");
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

async function showQueue() {
  const text = await (await fetch("/metrics")).text();
  const values = new Map();
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) values.set(match[1], Number(match[2]));
  }
  const figures = $("queue-figures");
  figures.replaceChildren();
  // Each figure is a dt/dd pair in a div of its own, one cell of the grid.
  const figure = (label, value) =>
    figures.append(
      element("div", {}, element("dt", {}, label), element("dd", {}, value)),
    );
  for (const [name, label, format] of QUEUE)
    figure(label, format(values.get(name) ?? 0));
  for (const [series, depth] of values) {
    const provider = /^nudge_provider_queue_depth\{provider="(\w+)"\}$/.exec(
      series,
    );
    if (provider) figure(`${provider[1]} queue`, count(depth));
  }
  $("queue").hidden = false;
}

function funnelOf(stats) {
  const totals = Object.fromEntries(FUNNEL.map(([key]) => [key, 0]));
  for (const group of stats.groups)
    for (const [key] of FUNNEL) totals[key] += group[key];
  const widest = Math.max(1, totals.triggered);
  const funnel = element(
    "div",
    { class: "funnel" },
    element("h3", {}, "Funnel"),
  );
  for (const [key, label] of FUNNEL) {
    funnel.append(
      element(
        "div",
        { class: "bar", "data-step": key },
        element("span", {}, label),
        element(
          "div",
          { class: "track" },
          element("div", {
            class: "fill",
            style: `width: ${(100 * totals[key]) / widest}%`,
          }),
        ),
        element("span", { class: "num" }, count(totals[key])),
      ),
    );
  }
  return funnel;
}

function variantsOf(stats) {
  const box = element(
    "div",
    { class: "variants" },
    element("h3", {}, "Variants"),
  );
  const arms = stats.groups.filter(
    (g) => g.group !== "holdout" && g.group !== "none",
  );
  if (arms.length === 0) {
    box.append(
      element("p", { class: "empty" }, "No notifications in this window."),
    );
    return box;
  }
  const widest = Math.max(0.0001, ...arms.map((g) => g.rates.conversion ?? 0));
  const table = element(
    "table",
    {},
    element(
      "tr",
      {},
      ...[
        "Variant",
        "Sent",
        "Open rate",
        "Conversion",
        "",
        "Lift",
        "p-value",
      ].map((h) => element("th", {}, h)),
    ),
  );
  for (const arm of arms) {
    const significant =
      arm.pValue !== undefined && arm.pValue !== null && arm.pValue < 0.05;
    table.append(
      element(
        "tr",
        { "data-variant": arm.group },
        element("td", {}, arm.group),
        element("td", {}, count(arm.sent)),
        element("td", {}, percent(arm.rates.open)),
        element("td", {}, percent(arm.rates.conversion)),
        element(
          "td",
          { style: "width: 30%" },
          element(
            "div",
            { class: "funnel" },
            element(
              "div",
              { class: "track" },
              element("div", {
                class: "fill",
                style: `width: ${(100 * (arm.rates.conversion ?? 0)) / widest}%`,
              }),
            ),
          ),
        ),
        element(
          "td",
          {},
          arm.lift === undefined ? "baseline" : percent(arm.lift),
        ),
        element(
          "td",
          significant ? { class: "significant" } : {},
          arm.pValue === undefined || arm.pValue === null
            ? "–"
            : arm.pValue.toFixed(3),
        ),
      ),
    );
  }
  box.append(table);
  if (stats.holdout)
    box.append(
      element(
        "p",
        { "data-holdout": "" },
        `Holdout: ${count(stats.holdout.held)} held back, ${percent(stats.holdout.conversionRate)} converted without a push.`,
      ),
    );
  return box;
}

async function showRules() {
  const { rules } = await api("/v1/rules");
  const section = $("rules");
  section.replaceChildren(element("h2", {}, "Rules"));
  for (const rule of rules) {
    const stats = await api(
      `/v1/stats?ruleId=${encodeURIComponent(rule.id)}&groupBy=variant`,
    );
    $("window").textContent =
      `${stats.from.slice(0, 10)} – ${stats.to.slice(0, 10)}`;
    section.append(
      element(
        "article",
        { "data-rule": rule.id },
        element("h3", {}, rule.id, rule.enabled === false ? " (disabled)" : ""),
        element("div", { class: "rule" }, funnelOf(stats), variantsOf(stats)),
      ),
    );
  }
  section.hidden = false;
}

async function show() {
  try {
    await showRules();
    await showQueue();
    $("sign-in").hidden = true;
    $("sign-out").hidden = false;
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("sign-in").hidden = false;
    $("sign-in-error").textContent =
      error.message === "unauthorized"
        ? "That token is not the admin token."
        : error.message;
  }
}

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  void show();
});
$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});

if (sessionStorage.getItem(TOKEN_KEY)) void show();
else $("sign-in").hidden = false;
