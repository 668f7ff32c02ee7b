import type { z } from "zod";

/* What the OpenAPI document (openapi.ts) says of one route. */

export type Method = "get" | "post" | "put" | "patch" | "delete" | "options";
export type Auth = "admin" | "writeKey" | "webhook" | "none";
/** A zod schema the route validates with, or words for a body read in code. */
export type Body = z.ZodType | { description: string };

/** One route of the app as the document shows it; `path` in express syntax. */
export type RouteDoc = {
  method: Method;
  path: string;
  summary: string;
  auth: Auth;
  request?: Body;
  query?: z.ZodType;
  /** Status → what it means; 4xx/5xx answer with the error shape. */
  responses: Record<number, string>;
};
