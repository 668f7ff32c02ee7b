// A rule's on/off switch. It writes through the rules API with If-Match, so a change
// someone made since this page read the rules is never overwritten unseen: the API
// answers 412 rules_changed, and the switch says so and shows the rules as they are.

import { api, ApiError } from "./api.js";
import { announce, element } from "./dom.js";

/**
 * The switch of `rule`. `state` holds the rules document and its ETag; `onChanged` is
 * called after a successful change or a refused one, to show the rules anew.
 */
export function ruleSwitch(rule, state, onChanged) {
  const on = rule.enabled !== false;
  const message = element("p", {
    class: "switch-error",
    role: "alert",
    id: `switch-error-${rule.id}`,
  });
  const button = element(
    "button",
    {
      type: "button",
      role: "switch",
      class: "switch",
      "aria-checked": String(on),
      "aria-describedby": message.id,
      "data-switch": rule.id,
      onclick: () => void toggle(),
    },
    element("span", { class: "knob", "aria-hidden": "true" }),
    element("span", { class: "switch-label" }, on ? "On" : "Off"),
    element("span", { class: "visually-hidden" }, `: rule ${rule.id}`),
  );

  let busy = false;
  async function toggle() {
    // Not `disabled`: a disabled button loses the keyboard's focus.
    if (busy) return;
    busy = true;
    button.setAttribute("aria-busy", "true");
    message.textContent = "";
    try {
      const { body, etag } = await api("/v1/rules", {
        method: "PUT",
        headers: { "if-match": state.etag },
        body: withEnabled(state.document, rule.id, !on),
      });
      state.document = body;
      state.etag = etag;
      announce(`${rule.id} is ${on ? "off" : "on"} now.`);
      onChanged({ focusSwitch: rule.id });
    } catch (error) {
      busy = false;
      button.removeAttribute("aria-busy");
      if (!(error instanceof ApiError) || error.code !== "rules_changed") {
        message.textContent = `Not changed: ${error.message}`;
        return;
      }
      message.textContent =
        "Not changed: someone edited the rules since this page loaded them. The page now shows the rules as they are; switch again if you still want to.";
      onChanged({
        keepMessage: { ruleId: rule.id, text: message.textContent },
      });
    }
  }
  return element("div", { class: "switch-box" }, button, message);
}

/** The rules document as PUT /v1/rules takes it, with one rule switched. */
function withEnabled(document, ruleId, enabled) {
  const { settings, collections, rules } = document;
  return {
    settings,
    collections,
    rules: rules.map((r) => {
      if (r.id !== ruleId) return r;
      // Enabled is the default: a rule switched on is written without the field.
      const copy = { ...r };
      delete copy.enabled;
      return enabled ? copy : { ...copy, enabled: false };
    }),
  };
}
