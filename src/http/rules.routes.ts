import { Router, type Request, type Response } from "express";
import type { Deps } from "../deps.ts";
import { AppError, ErrorCode } from "../errors.ts";
import {
  compileRuleBook,
  RulesFileError,
  type Rule,
  type RuleBook,
  type RulesDocument,
} from "../rules/rule-book.ts";
import { currentWinner } from "../stats/auto-winner.service.ts";
import {
  findRule,
  putRule,
  removeRule,
  type RuleDocument,
} from "../rules/rules-document.ts";

/**
 * Admin API for the rules: read, edit one rule at a time, validate and reload.
 * Mounted behind the admin token. Reads catch up with edits other processes stored, so
 * an edit made through one process is seen through every other at once.
 */
export function rulesRoutes(deps: Deps): Router {
  const router = Router();
  router.get("/v1/rules", showRules(deps));
  router.put("/v1/rules", replaceRules(deps));
  router.post("/v1/rules/validate", checkRules(deps));
  router.post("/v1/rules/reload", reloadRules(deps));
  router.get("/v1/rules/:id", showRule(deps));
  router.put("/v1/rules/:id", storeRule(deps));
  router.delete("/v1/rules/:id", deleteRule(deps));
  return router;
}

type RuleRequest = Request<{ id: string }>;

function showRules(deps: Deps) {
  return async (_req: Request, res: Response): Promise<void> => {
    const book = await deps.rules.refresh();
    res.set("etag", `"${book.version}"`).json(documentView(book));
  };
}

/** Replaces the whole rules, unless they changed since the version the client read. */
function replaceRules(deps: Deps) {
  return async (req: Request, res: Response): Promise<void> => {
    const { document, version: read } = documentBody(req.body);
    const expected = expectedVersions(req.get("if-match")) ?? read;
    const { book } = await rejectInvalidRules(
      "The rules cannot be stored",
      () =>
        deps.rules.update((_current, version) => {
          if (
            expected !== undefined &&
            (version === undefined || !expected.includes(version))
          )
            throw rulesChanged(expected, version);
          return { document, result: undefined };
        }),
    );
    res.set("etag", `"${book.version}"`).json(documentView(book));
  };
}

/** Rules a client means to store, checked without storing them. */
function checkRules(deps: Deps) {
  return async (req: Request, res: Response): Promise<void> => {
    const book = await deps.rules.refresh();
    res.json(validateRules(book.document, req.body));
  };
}

/** Reads the rules file again, answering with the version it replaced. */
function reloadRules(deps: Deps) {
  return async (_req: Request, res: Response): Promise<void> => {
    const previousVersion = deps.rules.current().version;
    const book = await rejectInvalidRules("The rules cannot be reloaded", () =>
      deps.rules.reload(),
    );
    res.json({ version: book.version, previousVersion });
  };
}

function showRule(deps: Deps) {
  return async (req: RuleRequest, res: Response): Promise<void> => {
    res.json(
      await withWinner(
        deps,
        ruleView(await deps.rules.refresh(), req.params.id),
      ),
    );
  };
}

/** Creates or replaces one rule: 201 with its location when it is new. */
function storeRule(deps: Deps) {
  return async (req: RuleRequest, res: Response): Promise<void> => {
    const { id } = req.params;
    const rule = ruleBody(id, req.body);
    const { book, result: created } = await rejectInvalidRules(
      `Rule "${id}" cannot be stored`,
      () =>
        deps.rules.update((document) => {
          const edited = putRule(document, rule);
          return { document: edited.document, result: edited.created };
        }),
    );
    if (created)
      res.status(201).location(`/v1/rules/${encodeURIComponent(id)}`);
    res.json(await withWinner(deps, ruleView(book, id)));
  };
}

function deleteRule(deps: Deps) {
  return async (req: RuleRequest, res: Response): Promise<void> => {
    const { id } = req.params;
    await rejectInvalidRules(`Rule "${id}" cannot be deleted`, () =>
      deps.rules.update((document) => {
        const edited = removeRule(document, id);
        if (edited === undefined) throw ruleNotFound(id);
        return { document: edited, result: undefined };
      }),
    );
    res.status(204).end();
  };
}

/** The rules in force, as written (defaults left out), with their version. */
function documentView(book: RuleBook) {
  const { settings = {}, collections = [], rules = [] } = book.document;
  return { version: book.version, settings, collections, rules };
}

/**
 * One rule as written, its own version and the version of the rules it belongs to;
 * `compiled` is for the server, not shown.
 */
function ruleView(book: RuleBook, id: string) {
  const rule = findRule(book.document, id);
  if (rule === undefined) throw ruleNotFound(id);
  const compiled = compiledRule(book, id);
  return {
    rule,
    ruleVersion: compiled.version,
    version: book.version,
    compiled,
  };
}

/**
 * A rule's view with, for a rule with `autoWinner`, its current version's test outcome
 * (`winner`, null while the test runs). A new version of the rule starts a new test.
 */
async function withWinner(deps: Deps, view: ReturnType<typeof ruleView>) {
  const { compiled, ...shown } = view;
  const winner = await currentWinner(deps.db, compiled);
  return winner === undefined ? shown : { ...shown, winner };
}

export function compiledRule(book: RuleBook, id: string): Rule {
  const rule = book.rules.find((candidate) => candidate.id === id);
  if (rule === undefined) throw ruleNotFound(id);
  return rule;
}

/**
 * The body of a PUT of the whole rules: a document as a rules file holds it, or as GET
 * /v1/rules answers it, whose `version` then names the version it was read at.
 */
function documentBody(body: unknown): {
  document: RulesDocument;
  version: string[] | undefined;
} {
  if (!isObject(body)) {
    throw new AppError(
      ErrorCode.invalidBody,
      400,
      'The request body must be a whole rules document, as RULES_FILE holds it: {"settings": {…}, "collections": […], "rules": […]}.',
    );
  }
  const { version, ...document } = body;
  return {
    document,
    version: typeof version === "string" ? [version] : undefined,
  };
}

/**
 * The versions an If-Match header names, as GET /v1/rules gives them in its ETag
 * (`"version"`, or a list of them); undefined without the header or for `*`. A weak
 * tag (`W/"…"`) names none: If-Match compares strongly.
 */
function expectedVersions(ifMatch: string | undefined): string[] | undefined {
  const value = ifMatch?.trim();
  if (value === undefined || value === "" || value === "*") return undefined;
  return value
    .split(",")
    .map((tag) => tag.trim())
    .filter((tag) => !tag.startsWith("W/"))
    .map((tag) => tag.replace(/^"(.*)"$/, "$1"));
}

function rulesChanged(
  expected: readonly string[],
  version: string | undefined,
): AppError {
  return new AppError(
    ErrorCode.rulesChanged,
    412,
    `The rules are at version ${version ?? "(none stored)"}, not ${expected.join(" or ") || "the one"} the request was made from: someone changed them since you read them. GET /v1/rules again, apply your change to what it answers, and PUT that with its ETag.`,
    { version: version ?? null },
  );
}

/** The body of a PUT: one rule, whose id is the path's. */
function ruleBody(id: string, body: unknown): RuleDocument {
  if (!isObject(body)) {
    throw new AppError(
      ErrorCode.invalidBody,
      400,
      'The request body must be one rule: a JSON object such as {"trigger": "…", "message": {"title": "…", "body": "…"}}.',
    );
  }
  if ("id" in body && body.id !== id) {
    throw new AppError(
      ErrorCode.invalidBody,
      400,
      `The rule's id ${JSON.stringify(body.id)} differs from the id in the path, "${id}". Leave it out or make them equal.`,
    );
  }
  return { id, ...body };
}

/**
 * Checks a whole rules document, or `{rule}`: one rule put into the rules in force.
 * Invalid rules are the answer here, not an error.
 */
function validateRules(current: RulesDocument, body: unknown) {
  const single = isObject(body) && "rule" in body;
  if (single && !isObject(body.rule))
    return { valid: false, problems: ["rule: must be a JSON object"] };
  const document = single
    ? putRule(current, body.rule as RuleDocument).document
    : body;
  let book: RuleBook;
  try {
    book = compileRuleBook(document, "the rules to validate");
  } catch (error) {
    if (error instanceof RulesFileError)
      return { valid: false, problems: error.problems };
    throw error;
  }
  const id = single ? (body.rule as RuleDocument).id : undefined;
  const rule = book.rules.find((candidate) => candidate.id === id);
  return {
    valid: true,
    version: book.version,
    ...(rule === undefined ? {} : { ruleVersion: rule.version }),
  };
}

/** Runs a change of the rules; rules it would make invalid are the client's 400. */
async function rejectInvalidRules<T>(
  what: string,
  change: () => Promise<T>,
): Promise<T> {
  try {
    return await change();
  } catch (error) {
    if (!(error instanceof RulesFileError)) throw error;
    throw new AppError(
      ErrorCode.invalidRules,
      400,
      `${what}: ${error.problems.join("; ")}`,
      { problems: error.problems },
    );
  }
}

export function ruleNotFound(id: string): AppError {
  return new AppError(ErrorCode.ruleNotFound, 404, `There is no rule "${id}".`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
