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
