import { Router } from "express";
import { z } from "zod";
import { ErrorCode } from "../errors.ts";
import type { Auth, Body, RouteDoc } from "./route-doc.ts";
import { PARAMS, ROUTES } from "./route-docs.ts";

/*
 * The OpenAPI document is generated from the zod schemas the routes validate with,
 * imported from the route modules, so it cannot drift from them. A route that reads
 * its input in code (the Segment intake's raw bodies, a rules document) says so in
 * words rather than in a hand-written schema that would go stale.
 */

const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  admin: [{ adminToken: [] }],
  writeKey: [{ writeKey: [] }],
  // Each is checked only when configured: SEGMENT_WEBHOOK_TOKEN, SEGMENT_SHARED_SECRET.
  webhook: [
    { webhookToken: [], segmentSignature: [] },
    { webhookBasic: [], segmentSignature: [] },
  ],
  none: [],
};

/** Express's `/v1/users/:userId` as OpenAPI's `/v1/users/{userId}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, "{$1}");
}

/** JSON Schema 2020-12 of what a client sends (zod's input side), as OpenAPI 3.1 embeds it. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const json: Record<string, unknown> = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema._zod.def.type === "custom")
        jsonSchema.description =
          "Checked in code; an invalid value is answered 400 saying what it must be.";
    },
  });
  // OpenAPI 3.1 documents are 2020-12 throughout: the dialect need not be repeated.
  delete json.$schema;
  return json;
}

function requestBody(body: Body) {
  const schema =
    body instanceof z.ZodType
      ? jsonSchemaOf(body)
      : { description: body.description };
  return { required: true, content: { "application/json": { schema } } };
}

function parameters(route: RouteDoc) {
  const path = [...route.path.matchAll(/:(\w+)/g)].map(([, name = ""]) => {
    const { description, maxLength } = PARAMS[name] ?? { description: name };
    return {
      name,
      in: "path",
      required: true,
      description,
      schema: {
        type: "string",
        ...(maxLength === undefined ? {} : { maxLength }),
      },
    };
  });
  if (route.query === undefined) return path;
  const query = jsonSchemaOf(route.query) as {
    properties?: Record<string, object>;
    required?: string[];
  };
  return [
    ...path,
    ...Object.entries(query.properties ?? {}).map(([name, schema]) => ({
      name,
      in: "query",
      required: query.required?.includes(name) ?? false,
      schema,
    })),
  ];
}

function responses(route: RouteDoc) {
  const all: Partial<Record<number, string>> = { ...route.responses };
  if (route.auth === "admin")
    all[401] ??= "unauthorized: no or wrong admin token";
  if (route.auth === "writeKey") all[401] ??= "invalid_write_key";
  return Object.fromEntries(
    Object.entries(all).map(([status, description = ""]) => [
      status,
      Number(status) >= 400
        ? {
            description,
            content: {
              "application/json": {
                schema: { $ref: "#/components/schemas/Error" },
              },
            },
          }
        : { description },
    ]),
  );
}

/** The OpenAPI 3.1 document of every route in ROUTES. */
export function buildOpenApiDocument() {
  return {
    openapi: "3.1.1",
    info: {
      title: "Nudge",
      version: "0.1.0",
      description: "Self-hosted, Segment-compatible push notifications.",
    },
    paths: pathsOf(ROUTES),
    components: {
      securitySchemes: securitySchemes(),
      schemas: { Error: errorSchema() },
    },
  };
}

/** Each route's operation, under its OpenAPI path and method. */
function pathsOf(routes: readonly RouteDoc[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const operation = {
      summary: route.summary,
      security: SECURITY[route.auth],
      parameters: parameters(route),
      ...(route.request === undefined
        ? {}
        : { requestBody: requestBody(route.request) }),
      responses: responses(route),
    };
    (paths[openApiPath(route.path)] ??= {})[route.method] = operation;
  }
  return paths;
}

/** The schemes SECURITY names, each saying which setting it checks. */
function securitySchemes() {
  return {
    adminToken: {
      type: "http",
      scheme: "bearer",
      description: "ADMIN_TOKEN",
    },
    writeKey: {
      type: "http",
      scheme: "basic",
      description:
        "A write key from SEGMENT_WRITE_KEYS as the user name (or writeKey in the body).",
    },
    segmentSignature: {
      type: "apiKey",
      in: "header",
      name: "X-Signature",
      description:
        "When SEGMENT_SHARED_SECRET is set: hex HMAC-SHA1 of the raw body (of JSON.stringify(body[0]) for an array).",
    },
    webhookToken: {
      type: "http",
      scheme: "bearer",
      description: "SEGMENT_WEBHOOK_TOKEN, when set.",
    },
    webhookBasic: {
      type: "http",
      scheme: "basic",
      description:
        "SEGMENT_WEBHOOK_TOKEN, when set, as the password (or as the user name with no password).",
    },
  };
}

/** The body of every error response, as the central error handler writes it. */
function errorSchema() {
  return {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: { type: "string", enum: Object.values(ErrorCode) },
          message: { type: "string", description: "What to fix." },
          details: {
            description: "Per code, e.g. problems or rejected events.",
          },
        },
      },
    },
  };
}

/** `GET /openapi.json`, without a token; the document is built once, here. */
export function openApiRoutes(): Router {
  const document = buildOpenApiDocument();
  const router = Router();
  router.get("/openapi.json", (_req, res) => {
    res.json(document);
  });
  return router;
}
