import type { RouteDoc } from "./route-doc.ts";
import { previewBody, triggerBody } from "./rule-runs.routes.ts";

/** The routes of the rules and of the matches they make, for the OpenAPI document. */
export const RULE_ROUTES: readonly RouteDoc[] = [
  {
    method: "get",
    path: "/v1/rules",
    summary: "The rules in force, as written",
    auth: "admin",
    responses: {
      200: "{version, settings, collections, rules}, the version as ETag",
    },
  },
  {
    method: "put",
    path: "/v1/rules",
    summary: "Replace the whole rules document",
    auth: "admin",
    request: {
      description:
        "A whole rules document as RULES_FILE holds it (see rules.schema.json), optionally with the version it was read at.",
    },
    responses: {
      200: "as GET /v1/rules",
      400: "invalid_body, invalid_rules",
      412: "rules_changed: If-Match names another version",
    },
  },
  {
    method: "post",
    path: "/v1/rules/validate",
    summary: "Check rules without storing them",
    auth: "admin",
    request: {
      description:
        'A whole rules document, or {"rule": {...}} checked within the rules in force.',
    },
    responses: { 200: "{valid: true, version} or {valid: false, problems}" },
  },
  {
    method: "post",
    path: "/v1/rules/reload",
    summary: "Read RULES_FILE and the newest stored rules again",
    auth: "admin",
    responses: { 200: "{version, previousVersion}", 400: "invalid_rules" },
  },
  {
    method: "get",
    path: "/v1/rules/:id",
    summary: "One rule as written",
    auth: "admin",
    responses: {
      200: "{rule, ruleVersion, version, winner?}: winner, for a rule with autoWinner, is its test's outcome {variant, decidedAt, metric, ruleVersion, figures: {test, look, looks, sentUntil, alpha, pValue, variants: [{variant, sent, successes, rate, pValue}]}}, null while the test runs",
      404: "rule_not_found",
    },
  },
  {
    method: "put",
    path: "/v1/rules/:id",
    summary: "Create or replace one rule",
    auth: "admin",
    request: {
      description:
        "One rule (see rules.schema.json); its id, if present, must equal the path's.",
    },
    responses: {
      200: "replaced: {rule, ruleVersion, version, winner?}",
      201: "created",
      400: "invalid_body, invalid_rules",
    },
  },
  {
    method: "delete",
    path: "/v1/rules/:id",
    summary: "Remove one rule",
    auth: "admin",
    responses: { 204: "removed", 400: "invalid_rules", 404: "rule_not_found" },
  },
  {
    method: "post",
    path: "/v1/rules/:id/preview",
    summary: "Dry run of a rule for an event",
    auth: "admin",
    request: previewBody,
    responses: {
      200: "who would get what, when, and why not",
      400: "invalid_body",
      404: "rule_not_found",
    },
  },
  {
    method: "post",
    path: "/v1/rules/:id/trigger",
    summary:
      "Run a rule for an event, for real: idempotent by the event's messageId",
    auth: "admin",
    request: triggerBody,
    responses: {
      200: "with dryRun: what the trigger would do, as a preview answers",
      202: "the match recorded (or recorded by an earlier call of the same event: replayed), with where to follow it",
      400: "invalid_body",
      404: "rule_not_found",
      409: "rule_disabled",
      422: "not_triggered: the event does not match the trigger, or names no audience",
    },
  },
  {
    method: "get",
    path: "/v1/matches/:matchId",
    summary:
      "A triggered rule's progress: planned so far, and its notifications by status",
    auth: "admin",
    responses: { 200: "the match", 404: "match_not_found" },
  },
  {
    method: "post",
    path: "/v1/matches/:matchId/cancel",
    summary: "Stop a match's planning and cancel its waiting notifications",
    auth: "admin",
    responses: {
      200: "the match, with cancelled: how many waiting notifications were cancelled",
      404: "match_not_found",
    },
  },
];
