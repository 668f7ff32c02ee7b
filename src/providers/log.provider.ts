import type { Push, PushProvider } from "./provider.ts";

export type LogProviderOptions = {
  /** Where each line goes (default: stdout). */
  write?: (line: string) => void;
};

/**
 * Prints each push as one line instead of sending it, and reports it sent: the
 * provider when none is configured, so a demo shows its pushes in the console.
 */
export function createLogProvider(
  options: LogProviderOptions = {},
): PushProvider {
  const write =
    options.write ??
    ((line: string) => {
      process.stdout.write(`${line}\n`);
    });
  return {
    name: "log",
    send(push) {
      write(formatPush(push));
      return Promise.resolve({ kind: "sent" });
    },
    close() {
      return Promise.resolve();
    },
  };
}

/**
 * `push apns → user ada (device d1): "Title" — body  shop://x  [Buy | Later]  [nudge_id …]`,
 * or for a silent push its data: `push fcm → user ada (device d1): silent {"refresh":"wishlist"}  [nudge_id …]`.
 */
export function formatPush(push: Push): string {
  const to = `push ${push.platform} → user ${push.userId} (device ${push.deviceId}): `;
  const id = `[nudge_id ${push.notificationId}]`;
  if (push.silent === true)
    return `${to}silent ${JSON.stringify(push.data)}  ${id}`;
  const link = push.deepLink === undefined ? "" : `  ${oneLine(push.deepLink)}`;
  const buttons =
    push.actions === undefined
      ? ""
      : `  [${push.actions.map((a) => oneLine(a.title)).join(" | ")}]`;
  return `${to}${JSON.stringify(push.title)} — ${oneLine(push.body)}${link}${buttons}  ${id}`;
}

// A body with line breaks would break the one-line-per-push log.
function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
