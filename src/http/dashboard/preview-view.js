// The preview: paste or pick an event, and see who would get what, when and why not,
// through POST /v1/rules/:id/preview (it records nothing), with each push drawn as it
// would look on an iPhone, an Android phone and in a browser.

import { api } from "./api.js";
import { count, element, fromNow, reasonText, when } from "./dom.js";

/** An event that sets the rule off, from a plain trigger: its name and properties. */
export function exampleEvent(rule) {
  const event = {
    type: "track",
    event: "Campaign Started",
    userId: "",
    properties: {},
  };
  for (const [, field, value] of (rule.trigger ?? "").matchAll(
    /(\S+)\s*=\s*("[^"]*"|true|false|-?\d+(?:\.\d+)?)/g,
  )) {
    const parsed = JSON.parse(value);
    if (field === "event") event.event = parsed;
    else if (field === "type") event.type = parsed;
    else if (field.startsWith("properties."))
      event.properties[field.slice(11)] = parsed;
  }
  if (rule.audience?.collection)
    event.properties[rule.audience.key.replace(/^properties\./, "")] ??= "";
  return event;
}

export function previewView(rule, rules) {
  const textarea = element("textarea", {
    id: "preview-event",
    rows: 8,
    spellcheck: "false",
    "aria-describedby": "preview-help",
  });
  textarea.value = JSON.stringify(exampleEvent(rule), null, 2);
  const result = element("div", {
    id: "preview-result",
    "aria-live": "polite",
  });
  return element(
    "form",
    {
      id: "preview-form",
      class: "card",
      "aria-labelledby": "preview-title",
      onsubmit: (e) => {
        e.preventDefault();
        void runPreview(rule, textarea.value, result);
      },
    },
    element("h3", { id: "preview-title" }, "Preview: who would get what"),
    element(
      "p",
      { id: "preview-help", class: "note" },
      "Nothing is sent or recorded. Give the userId of a real user (and the item's id for a saved-item audience) to see their push.",
    ),
    element("label", { for: "preview-pick" }, "Start from"),
    examplePicker(rule, rules, textarea),
    element("label", { for: "preview-event" }, "Event (Segment JSON)"),
    textarea,
    element("button", { type: "submit" }, "Preview"),
    result,
  );
}

/** A list of events that set off each rule; picking one puts it in the text area. */
function examplePicker(rule, rules, textarea) {
  const examples = new Map(rules.map((r) => [r.id, exampleEvent(r)]));
  const picker = element(
    "select",
    {
      id: "preview-pick",
      onchange: () =>
        (textarea.value = JSON.stringify(examples.get(picker.value), null, 2)),
    },
    [...examples.keys()].map((id) =>
      element(
        "option",
        { value: id, selected: id === rule.id },
        `Event that triggers ${id}`,
      ),
    ),
  );
  return picker;
}

async function runPreview(rule, text, result) {
  const fail = (message) =>
    result.replaceChildren(
      element("p", { role: "alert", class: "error" }, message),
    );
  let event;
  try {
    event = JSON.parse(text);
  } catch (error) {
    fail(`The event is not valid JSON: ${error.message}`);
    return;
  }
  result.replaceChildren(element("p", {}, "Asking…"));
  try {
    const { body } = await api(
      `/v1/rules/${encodeURIComponent(rule.id)}/preview`,
      { method: "POST", body: { event, limit: 20 } },
    );
    result.replaceChildren(...previewResult(body));
  } catch (error) {
    fail(error.message);
  }
}

function previewResult(preview) {
  const out = [];
  if (!preview.enabled)
    out.push(
      element(
        "p",
        { class: "note" },
        "This rule is off: nothing would be sent.",
      ),
    );
  if (!preview.triggered) {
    out.push(
      element(
        "p",
        { "data-preview": "not-triggered" },
        `Not triggered. ${preview.explanation ?? ""}`,
      ),
    );
    return out;
  }
  const pending = preview.recipients.filter((r) => r.status === "pending");
  out.push(
    element(
      "p",
      { "data-preview": "triggered" },
      `Triggered: ${count(pending.length)} of ${count(preview.recipients.length)} recipients would get a push${preview.truncated ? " (first 20 shown)" : ""}.`,
    ),
    preview.explanation
      ? element("p", { class: "note" }, preview.explanation)
      : null,
  );
  out.push(
    element(
      "ul",
      { class: "recipients" },
      preview.recipients.map(recipientItem),
    ),
  );
  return out.filter(Boolean);
}

function recipientItem(r) {
  if (r.status === "suppressed")
    return element(
      "li",
      { "data-recipient": r.userId, "data-status": "suppressed" },
      element("strong", {}, r.userId),
      `: not sent — ${reasonText(r.reason)}.`,
    );
  const timing =
    r.deferredBy.length === 0
      ? "sent at once"
      : `sent ${when(r.sendAt)} (${fromNow(r.sendAt)}), held by ${r.deferredBy.map(reasonText).join(" + ").toLowerCase()}`;
  return element(
    "li",
    { "data-recipient": r.userId, "data-status": "pending" },
    element(
      "p",
      {},
      element("strong", {}, r.userId),
      `: ${r.variant ? `variant ${r.variant}, ` : ""}${r.content.locale ? `${r.content.locale} text, ` : ""}${timing}.`,
    ),
    pushMockups(r.content),
  );
}

/** The push as each platform shows it: app name, title, body, image, where a tap goes. */
export function pushMockups(content) {
  const mock = (platform, label, app) =>
    element(
      "div",
      {
        class: `push ${platform}`,
        "data-platform": platform,
        role: "group",
        "aria-label": `${label} notification`,
      },
      element("div", { class: "push-app" }, app),
      element("div", { class: "push-title" }, content.title),
      element("div", { class: "push-body" }, content.body),
      content.image
        ? element("div", { class: "push-image" }, "Image: ", content.image)
        : null,
      content.deepLink
        ? element("div", { class: "push-link" }, "Opens ", content.deepLink)
        : null,
    );
  if (content.silent)
    return element(
      "p",
      { class: "note" },
      "A silent push: it wakes the app and shows nothing.",
    );
  return element(
    "div",
    { class: "pushes" },
    mock("ios", "iPhone", "YOUR APP · now"),
    mock("android", "Android", "Your app · now"),
    mock("web", "Web browser", "yourshop.example"),
  );
}
