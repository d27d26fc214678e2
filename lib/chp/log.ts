/**
 * The CLI's log: one line per message on stderr, in the form JupyterHub's own log uses
 * (`[I 2024-01-01 12:00:00.000 traefik-proxy] message`), from a chosen level up.
 *
 * @module
 */

/**
 * The log levels, least severe first.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LOG_LEVELS } from "./log.ts";
 * assert.deepEqual(LOG_LEVELS, ["debug", "info", "warn", "error"]);
 * ```
 */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/**
 * A log level.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LOG_LEVELS, type LogLevel } from "./log.ts";
 * const level: LogLevel = "warn";
 * assert.equal(LOG_LEVELS.indexOf(level), 2);
 * ```
 */
export type LogLevel = typeof LOG_LEVELS[number];

/**
 * Writes one line per message, from its level up; lower levels do nothing.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLogger, type Logger } from "./log.ts";
 * const lines: string[] = [];
 * const log: Logger = createLogger("error", { write: (line) => lines.push(line) });
 * log.warn("dropped");
 * log.error("kept");
 * assert.equal(lines.length, 1);
 * ```
 */
export type Logger = Record<LogLevel, (message: string) => void>;

/**
 * Options of `createLogger`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLogger, type LoggerOptions } from "./log.ts";
 * const lines: string[] = [];
 * const options: LoggerOptions = {
 *   write: (line) => lines.push(line),
 *   now: () => new Date("2024-01-02T03:04:05.678Z"),
 * };
 * createLogger("info", options).info("up");
 * assert.deepEqual(lines, ["[I 2024-01-02 03:04:05.678 traefik-proxy] up"]);
 * ```
 */
export interface LoggerOptions {
  /** Receives each formatted line; default `console.error`. */
  write?: (line: string) => void;
  /** The clock; default `() => new Date()`. */
  now?: () => Date;
  /**
   * `text` (default): `[I 2026-12-06 04:00:00.000 traefik-proxy] message`, as JupyterHub's own;
   * `json`: one object per line, `{"time", "level", "logger", "message"}`, for log collectors.
   */
  format?: "text" | "json";
}

/**
 * Creates a logger that writes from `level` up. The level is case-insensitive; an unknown one
 * writes everything.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger("WARN", { write: (line) => lines.push(line), now: () => new Date(0) });
 * log.info("not written");
 * log.warn("written");
 * assert.deepEqual(lines, ["[W 1970-01-01 00:00:00.000 traefik-proxy] written"]);
 * ```
 */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => console.error(line));
  const now = options.now ?? (() => new Date());
  const min = LOG_LEVELS.findIndex((name) => name === level.toLowerCase());
  const entry = (name: LogLevel, index: number) =>
    index < min ? () => {} : (message: string) => {
      if (options.format === "json") {
        write(JSON.stringify({
          time: now().toISOString(),
          level: name,
          logger: "traefik-proxy",
          message,
        }));
        return;
      }
      const time = now().toISOString().replace("T", " ").slice(0, 23);
      write(`[${name[0].toUpperCase()} ${time} traefik-proxy] ${message}`);
    };
  return {
    debug: entry("debug", 0),
    info: entry("info", 1),
    warn: entry("warn", 2),
    error: entry("error", 3),
  };
}
