import { describe, expect, it } from "vitest";
import { useTestApp } from "../support/test-app.ts";

const ctx = useTestApp();

describe("the dashboard's files", () => {
  it("when a browser asks for /favicon.ico, then it gets the dashboard's icon without a token", async () => {
    const response = await fetch(`${ctx.app.baseUrl}/favicon.ico`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^image\/svg\+xml/);
    expect(await response.text()).toContain("<svg");
  });

  it("when the page loads its modules, then each is served as JavaScript", async () => {
    const page = await (await fetch(`${ctx.app.baseUrl}/`)).text();
    const modules = [...page.matchAll(/src="(\/dashboard\/[\w-]+\.js)"/g)].map(
      ([, path]) => path ?? "",
    );
    expect(modules.length).toBeGreaterThan(0);
    for (const path of modules) {
      const response = await fetch(`${ctx.app.baseUrl}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/javascript/);
    }
  });
});
