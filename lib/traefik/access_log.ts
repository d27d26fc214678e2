/**
 * traefik's access log as the source of routes' activity: the static configuration that makes
 * traefik write one short JSON line per request that counts (status below 300, as
 * configurable-http-proxy counts it, and websockets, which traefik logs with status 0 when they
 * close), and the reading of such a line. Lines go to traefik's standard output, which the
 * process that started traefik reads.
 *
 * Measured on 2 cores (bench `--sections=activity`): traefik writing these lines and this
 * process reading them costs a few percent of the data plane's requests per second; traefik's
 * Prometheus router counters cost as much in traefik and a scrape of every router's series
 * grows with the table, and neither sees an open websocket.
 *
 * @module
 */

import type { ConfigTree } from "../core/types.ts";

/**
 * The static `accessLog` section: JSON, only the router name and status kept, only statuses
 * 0-299 written, buffered so that a slow reader does not hold requests.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { accessLogConfig } from "./access_log.ts";
 * const config = accessLogConfig();
 * assert.equal(config.format, "json");
 * assert.deepEqual(config.filters, { statusCodes: ["0-299"] });
 * ```
 */
export function accessLogConfig(): ConfigTree {
  return {
    format: "json",
    bufferingSize: 1000,
    filters: { statusCodes: ["0-299"] },
    fields: {
      defaultMode: "drop",
      names: { DownstreamStatus: "keep", RouterName: "keep" },
      headers: { defaultMode: "drop" },
    },
  };
}

/** One request of traefik's access log. */
export interface AccessLogEntry {
  /** The router that served it, with its `@provider` suffix. */
  router: string;
  /** The status sent to the client; 0 for a websocket (logged when it closes). */
  status: number;
}

/**
 * The request one line of traefik's standard output logs, or undefined for any other line
 * (traefik's own log).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { accessLogEntry } from "./access_log.ts";
 * const line =
 *   '{"DownstreamStatus":200,"RouterName":"router__2Fuser_2Fa_2F@file","level":"info","msg":""}';
 * assert.deepEqual(accessLogEntry(line), { router: "router__2Fuser_2Fa_2F@file", status: 200 });
 * assert.equal(accessLogEntry("2026-12-06T06:41:52Z WRN something"), undefined);
 * ```
 */
export function accessLogEntry(line: string): AccessLogEntry | undefined {
  if (!line.startsWith('{"DownstreamStatus":')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  const { DownstreamStatus: status, RouterName: router } = parsed as Record<string, unknown>;
  if (typeof status !== "number") return undefined;
  // A request no router matched has no router name.
  return { router: typeof router === "string" ? router : "", status };
}
