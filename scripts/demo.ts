/*
 * Replays examples/events/*.json against Nudge and shows what became of each user's
 * notifications, and previews what the action-button rule would send on each platform.
 * Starts Nudge (npm start's defaults: embedded database, example rules, pushes printed
 * by the log provider: buttons in brackets, a silent push as its data) when none
 * answers at NUDGE_URL.
 *
 *   npm run demo                      # start Nudge if needed, replay, keep it running
 *   NUDGE_URL=http://host:3000 npm run demo
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { assignVariant } from "../src/rules/variant.ts";

const BASE_URL = process.env.NUDGE_URL ?? "http://127.0.0.1:3000";
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? "nudge-dev-admin-token";
const SECRET = process.env.SEGMENT_SHARED_SECRET;
const EVENTS_DIR = new URL("../examples/events/", import.meta.url).pathname;
const DEMO_USERS = ["ada", "bob", "cleo"];

type Event = Record<string, unknown> & { context?: Record<string, unknown> };

async function main(): Promise<void> {
  const nudge = (await isUp()) ? undefined : await startNudge();

  // Fresh user ids on every run: the sale rule sends each user one push per product a
  // day (dedupe), so a second run with the same users would rightly send nothing. The
  // ids are drawn outside the rule's 5% holdout, so everyone gets a push.
  const tag = pickTag();
  const rename = (id: unknown) =>
    typeof id === "string" && DEMO_USERS.includes(id) ? `${id}-${tag}` : id;
  // Quiet hours (21:00–08:00 in each user's timezone) would hold the pushes until
  // morning: the demo users live in a timezone where it is early afternoon now.
  const timezone = afternoonTimezone(new Date());
  console.log(
    `demo: users ${DEMO_USERS.map((u) => `${u}-${tag}`).join(", ")}, in ${timezone}`,
  );

  const files = (await readdir(EVENTS_DIR))
    .filter((f) => f.endsWith(".json"))
    .sort();
  for (const file of files) {
    const content = JSON.parse(
      await readFile(join(EVENTS_DIR, file), "utf8"),
    ) as Event | Event[];
    const events = (Array.isArray(content) ? content : [content]).map(
      (event): Event => ({
        ...event,
        messageId: randomUUID(),
        userId: rename(event.userId),
        ...(event.context?.timezone !== undefined && {
          context: { ...event.context, timezone },
        }),
      }),
    );
    // Before the event is sent: once sent, the rule's dedupe would stop a preview.
    const [first] = events;
    if (file.includes("back-in-stock") && first !== undefined)
      await previewPayloads("back-in-stock", first);
    const body = JSON.stringify(events.length === 1 ? events[0] : events);
    const response = await fetch(`${BASE_URL}/v1/segment`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...signature(events, body),
      },
      body,
    });
    console.log(`demo: ${file} → ${response.status} ${await response.text()}`);
  }

  // Planning and delivery run in the background; give them a moment.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  for (const user of DEMO_USERS) await describeUser(`${user}-${tag}`);

  if (nudge !== undefined) {
    console.log("demo: Nudge keeps running at", BASE_URL, "(Ctrl-C stops it)");
    await new Promise((resolve) => nudge.once("exit", resolve));
  }
}

async function isUp(): Promise<boolean> {
  try {
    return (await fetch(`${BASE_URL}/health`)).ok;
  } catch {
    return false;
  }
}

async function startNudge(): Promise<ChildProcess> {
  console.log(`demo: no Nudge at ${BASE_URL}; starting one from its sources`);
  const child = spawn(
    process.execPath,
    [new URL("../src/main.ts", import.meta.url).pathname],
    { stdio: "inherit", env: { LOG_LEVEL: "warn", ...process.env } },
  );
  process.once("SIGINT", () => child.kill("SIGINT"));
  const deadline = Date.now() + 60_000;
  while (!(await isUp())) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error("Nudge did not start: see its output above");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return child;
}

function pickTag(): string {
  for (;;) {
    const tag = randomBytes(3).toString("hex");
    const heldOut = DEMO_USERS.some(
      (user) =>
        assignVariant(
          "wishlist-on-sale",
          `${user}-${tag}`,
          [
            { id: "a", weight: 50 },
            { id: "b", weight: 50 },
          ],
          0.05,
        ) === "holdout",
    );
    if (!heldOut) return tag;
  }
}

/** A fixed-offset zone (Etc/GMT±h) where the local time is now 13:00–14:00. */
function afternoonTimezone(now: Date): string {
  const offset = ((13 - now.getUTCHours() + 36) % 24) - 12;
  // Etc/GMT zones count the other way round: Etc/GMT-2 is UTC+2.
  return offset === 0
    ? "Etc/UTC"
    : `Etc/GMT${offset > 0 ? "-" : "+"}${String(Math.abs(offset))}`;
}

function signature(events: Event[], body: string): Record<string, string> {
  if (SECRET === undefined) return {};
  // Segment signs a batch's first event only.
  const signed = events.length === 1 ? body : JSON.stringify(events[0]);
  return {
    "x-signature": createHmac("sha1", SECRET).update(signed).digest("hex"),
  };
}

async function describeUser(userId: string): Promise<void> {
  const response = await fetch(`${BASE_URL}/v1/users/${userId}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  if (!response.ok) {
    console.log(`demo: ${userId}: ${response.status} ${await response.text()}`);
    return;
  }
  const user = (await response.json()) as {
    notifications: {
      ruleId: string;
      status: string;
      reason: string | null;
      sendAt: string;
    }[];
  };
  for (const n of user.notifications) {
    const why = n.reason === null ? "" : ` (${n.reason})`;
    const when = n.status === "pending" ? ` until ${n.sendAt}` : "";
    console.log(`demo: ${userId}: ${n.ruleId} → ${n.status}${why}${when}`);
  }
}

/** Each recipient's payload per platform, with its size, as the preview shows it. */
async function previewPayloads(ruleId: string, event: Event): Promise<void> {
  const response = await fetch(`${BASE_URL}/v1/rules/${ruleId}/preview`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ event }),
  });
  const preview = (await response.json()) as {
    recipients?: {
      userId: string;
      status: string;
      reason?: string;
      payloads?: {
        platform: string;
        bytes: number;
        limit: number;
        body: unknown;
      }[];
    }[];
  };
  for (const r of preview.recipients ?? []) {
    if (r.payloads === undefined) {
      console.log(
        `demo: preview ${ruleId}: ${r.userId} → ${r.status} (${r.reason ?? ""})`,
      );
      continue;
    }
    for (const p of r.payloads)
      console.log(
        `demo: preview ${ruleId}: ${r.userId} ${p.platform} ${String(p.bytes)}/${String(p.limit)} bytes ${JSON.stringify(p.body)}`,
      );
  }
}

await main();
