import { Router } from "express";
import { z } from "zod";
import type { Deps } from "../deps.ts";
import { AppError, ErrorCode } from "../errors.ts";
import { parseSegmentEvent } from "../ingest/segment-event.schema.ts";
import { previewRule } from "../planning/rule-preview.service.ts";
import {
  triggerRule,
  type TriggerResult,
} from "../planning/rule-trigger.service.ts";
import { createTimezoneResolver } from "../rules/timezone-resolver.ts";
import type { SegmentEvent } from "../segment-event.ts";
import { matchView } from "./matches.routes.ts";
import { compiledRule } from "./rules.routes.ts";
import { parseBody } from "./validation.ts";

/** The body of POST /v1/rules/:id/preview. */
export const previewBody = z.strictObject({
  event: z.record(z.string(), z.unknown()),
  limit: z.number().int().min(1).max(1000).default(100),
});

/** The body of POST /v1/rules/:id/trigger: a preview's, and whether to only preview. */
export const triggerBody = previewBody.extend({
  dryRun: z.boolean().default(false).meta({
    description:
      "answer what the trigger would do, as POST /v1/rules/:id/preview does, and record nothing",
  }),
});

/**
 * Running a rule for one event given here rather than sent by Segment: a preview (a
 * dry run that stores nothing) and a trigger that runs it for real. Admin only.
 */
export function ruleRunsRoutes(deps: Deps): Router {
  const router = Router();
  const timezoneOf = createTimezoneResolver(
    deps.logger,
    () => deps.rules.current().settings,
  );
  const preview = async (
    id: string,
    input: { event: Record<string, unknown>; limit: number },
  ) => {
    const book = await deps.rules.refresh();
    const rule = compiledRule(book, id);
    const now = deps.clock();
    const event = parseEvent(input.event, now);
    return previewRule(
      { db: deps.db, now, timezoneOf },
      book,
      rule,
      event,
      input.limit,
    );
  };

  router.post("/v1/rules/:id/preview", async (req, res) => {
    res.json(await preview(req.params.id, parseBody(previewBody, req.body)));
  });

  router.post("/v1/rules/:id/trigger", async (req, res) => {
    const body = parseBody(triggerBody, req.body);
    if (body.dryRun) {
      res.json(await preview(req.params.id, body));
      return;
    }
    const rule = compiledRule(await deps.rules.refresh(), req.params.id);
    const now = deps.clock();
    const result = await triggerRule(
      deps.db,
      rule,
      parseEvent(body.event, now),
      now,
    );
    if (result.kind === "refused") throw refusal(result);
    if (result.kind === "recorded") deps.planner.poke();
    const view = matchView(result.match);
    res
      .status(202)
      .location(view.links.self)
      .json({ ...view, replayed: result.kind === "replayed" });
  });

  return router;
}

function refusal(
  result: Extract<TriggerResult, { kind: "refused" }>,
): AppError {
  return result.reason === "disabled"
    ? new AppError(ErrorCode.ruleDisabled, 409, result.explanation)
    : new AppError(ErrorCode.notTriggered, 422, result.explanation);
}

/** The `event` of a preview or trigger body, validated as the ingest validates a call. */
function parseEvent(input: unknown, now: Date): SegmentEvent {
  const parsed = parseSegmentEvent(input, now);
  if (parsed.ok) return parsed.event;
  const problems = parsed.problems.map(({ path, message }) => ({
    path: path === "(event)" ? "event" : `event.${path}`,
    message,
  }));
  throw new AppError(
    ErrorCode.invalidBody,
    400,
    `The event is not a valid Segment event: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
    { problems },
  );
}
