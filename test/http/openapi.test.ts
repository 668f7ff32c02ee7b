import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.ts";
import { buildOpenApiDocument, openApiPath } from "../../src/http/openapi.ts";
import { useTestApp } from "../support/test-app.ts";

const test = useTestApp();
const document = buildOpenApiDocument();

type Layer = {
  name?: string;
  rawPath?: unknown;
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
};

/** `METHOD /path` of every route express answers, OpenAPI-style, found in its router stack. */
function expressRoutes(stack: Layer[], prefix = ""): string[] {
  return stack.flatMap((layer) => {
    if (layer.route !== undefined) {
      const paths = [layer.route.path].flat();
      const methods = Object.keys(layer.route.methods).filter(
        (method) => method !== "_all",
      );
      return paths.flatMap((path) =>
        methods.map((method) => operation(method, prefix + path)),
      );
    }
    const mount =
      typeof layer.rawPath === "string" && layer.rawPath !== "/"
        ? layer.rawPath
        : "";
    // express.static answers GET for any file below where it is mounted.
    if (layer.name === "serveStatic")
      return [operation("get", `${prefix}${mount}/:file`)];
    if (layer.handle?.stack !== undefined)
      return expressRoutes(layer.handle.stack, prefix + mount);
    return [];
  });
}

function operation(method: string, path: string): string {
  return `${method.toUpperCase()} ${openApiPath(path)}`;
}

function documentedRoutes(): string[] {
  return Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => operation(method, path)),
  );
}

describe("GET /openapi.json", () => {
  it("when express's routes are walked, then each is documented and each documented one exists", () => {
    const express = buildApp(test.app.deps) as unknown as {
      router: { stack: Layer[] };
    };
    const routes = [...new Set(expressRoutes(express.router.stack))].sort();
    const documented = documentedRoutes().sort();
    expect(routes.length).toBeGreaterThan(30);
    expect(
      routes.filter((route) => !documented.includes(route)),
      "routes missing from the document",
    ).toEqual([]);
    expect(
      documented.filter((route) => !routes.includes(route)),
      "documented operations that are not routes",
    ).toEqual([]);
  });

  it("when asked without a token, then it answers the document", async () => {
    const response = await test.app.request("GET", "/openapi.json");
    expect(response.status).toBe(200);
    expect(response.body).toEqual(JSON.parse(JSON.stringify(document)));
  });
});

type Schema = Record<string, unknown>;
type Operation = {
  responses?: Record<
    string,
    { description?: string; content?: Record<string, { schema?: Schema }> }
  >;
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema?: Schema }> };
  security?: Record<string, string[]>[];
};

const operations = Object.entries(document.paths).flatMap(([path, byMethod]) =>
  Object.entries(byMethod as Record<string, Operation>).map(([method, op]) => ({
    path,
    method,
    op,
  })),
);

/** Formats are annotations here: the test is about the schemas, not about dates. */
const newAjv = () =>
  new Ajv2020({ strict: true, allErrors: true, validateFormats: false });

/** Every schema an operation holds: its parameters', its request body's, its answers'. */
function schemasOf(op: Operation): Schema[] {
  return [
    ...(op.parameters ?? []).map((p) => p.schema),
    ...Object.values(op.requestBody?.content ?? {}).map((c) => c.schema),
    ...Object.values(op.responses ?? {}).flatMap((r) =>
      Object.values(r.content ?? {}).map((c) => c.schema),
    ),
  ].filter((schema) => schema !== undefined);
}

describe("the OpenAPI document", () => {
  it("when read, then it has the essentials of OpenAPI 3.1 and every operation answers", () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info.title).toBeTypeOf("string");
    expect(document.info.version).toBeTypeOf("string");
    const schemes = Object.keys(document.components.securitySchemes);
    for (const { path, method, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(Object.keys(op.responses ?? {}), where).not.toEqual([]);
      for (const response of Object.values(op.responses ?? {}))
        expect(response.description, where).toBeTypeOf("string");
      const declared = (op.parameters ?? [])
        .filter((p) => p.in === "path")
        .map((p) => p.name);
      expect(declared.sort(), where).toEqual(
        [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => name).sort(),
      );
      for (const requirement of op.security ?? [])
        for (const scheme of Object.keys(requirement))
          expect(schemes, where).toContain(scheme);
    }
  });

  it("when each schema is compiled with ajv's 2020-12 draft, then each compiles", () => {
    const ajv = newAjv();
    for (const schema of Object.values(document.components.schemas))
      ajv.compile(schema);
    let compiled = 0;
    for (const { op } of operations) {
      for (const schema of schemasOf(op)) {
        const ref = schema.$ref;
        if (typeof ref === "string") {
          const name = ref.replace("#/components/schemas/", "");
          expect(Object.keys(document.components.schemas)).toContain(name);
        } else {
          ajv.compile(schema);
          compiled++;
        }
      }
    }
    expect(compiled).toBeGreaterThan(10);
  });
});

type Example = { method: string; path: string; body: unknown };

/**
 * README's `curl … -d '{…}'` examples: the method (-X, else POST with a body), the path
 * after the host, and the JSON body. One that interpolates the shell is left out.
 */
function readmeExamples(): Example[] {
  const readme = readFileSync(
    new URL("../../README.md", import.meta.url),
    "utf8",
  );
  const commands = readme.split(/^(?=curl )/m).slice(1);
  return commands.flatMap((command) => {
    const text = command.split(/\n(?!\s)/)[0] ?? "";
    const path = /localhost:\d+(\/[^\s'"]*)/.exec(text)?.[1];
    const data = /-d '([^']*)'/.exec(text)?.[1];
    if (path === undefined || data === undefined) return [];
    const method = /-X (\w+)/.exec(text)?.[1] ?? "POST";
    try {
      return [{ method, path, body: JSON.parse(data) as unknown }];
    } catch {
      return [];
    }
  });
}

/** The documented request body schema of the route a concrete path belongs to. */
function requestSchemaFor(method: string, path: string): Schema | undefined {
  const match = operations.find(
    (candidate) =>
      candidate.method === method.toLowerCase() &&
      new RegExp(`^${candidate.path.replace(/\{\w+\}/g, "[^/]+")}$`).test(path),
  );
  const schema = match?.op.requestBody?.content["application/json"]?.schema;
  return schema?.type === undefined && schema?.oneOf === undefined
    ? undefined
    : schema;
}

describe("README's examples", () => {
  it("when a curl example sends JSON to a route with a schema, then the body validates against it", () => {
    const ajv = newAjv();
    const checked = readmeExamples().flatMap(({ method, path, body }) => {
      const schema = requestSchemaFor(method, path);
      if (schema === undefined) return [];
      const validate = ajv.compile(schema);
      expect(
        validate(body),
        `${method} ${path}: ${JSON.stringify(validate.errors)}`,
      ).toBe(true);
      return [`${method} ${path}`];
    });
    expect(checked.length, checked.join(", ")).toBeGreaterThanOrEqual(4);
  });
});
