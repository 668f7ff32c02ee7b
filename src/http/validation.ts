import type { z } from "zod";
import { AppError, ErrorCode } from "../errors.ts";

/** Validates a JSON request body, answering 400 with every problem and its field. */
export function parseBody<T extends z.ZodType>(
  schema: T,
  body: unknown,
): z.output<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    path: issue.path.join(".") || "(body)",
    message: issue.message,
  }));
  throw new AppError(
    ErrorCode.invalidBody,
    400,
    `The request body is invalid: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
    { problems },
  );
}

/** Validates a request's query string, answering 400 with every problem and its parameter. */
export function parseQuery<T extends z.ZodType>(
  schema: T,
  query: unknown,
): z.output<T> {
  const result = schema.safeParse(query ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    path: issue.path.join(".") || "(query)",
    message: issue.message,
  }));
  throw new AppError(
    ErrorCode.invalidQuery,
    400,
    `The query is invalid: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
    { problems },
  );
}
