import { pino, type Logger } from "pino";

export type { Logger };

/**
 * Creates the process logger. Secrets are redacted by path as a second line of
 * defence: code never logs config values or request bodies in the first place.
 */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      level,
      base: { service: "nudge" },
      redact: {
        paths: [
          "req.headers.authorization",
          'req.headers["x-signature"]',
          "config.adminToken",
          "config.databaseUrl",
          "config.segmentSharedSecret",
          "config.segmentWebhookToken",
          "config.segmentWriteKeys",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
