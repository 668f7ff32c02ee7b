import express, { Router } from "express";

const DASHBOARD_DIR = new URL("./dashboard/", import.meta.url).pathname;

/**
 * The dashboard at `/`: a page and its script, served as they are (the build copies
 * them beside the compiled module).
 * They hold no data: the script asks for the admin token and reads the admin API
 * with it, so everything shown stays behind the token.
 */
export function dashboardRoutes(): Router {
  const router = Router();
  router.get("/", (_req, res) => {
    res.sendFile("index.html", { root: DASHBOARD_DIR });
  });
  // Browsers ask for /favicon.ico by themselves; an SVG answers it in every current one.
  router.get("/favicon.ico", (_req, res) => {
    res.type("image/svg+xml").sendFile("favicon.svg", {
      root: DASHBOARD_DIR,
      maxAge: "1d",
    });
  });
  router.use("/dashboard", express.static(DASHBOARD_DIR, { index: false }));
  return router;
}
