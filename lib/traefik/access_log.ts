/**
 * traefik's access log as the source of routes' activity: the static configuration that makes
 * traefik write one short JSON line per request that counts (status below 300, as
 * configurable-http-proxy counts it, and websockets, which traefik logs with status 0 when they
 * close), and the reading of such a line. Lines go to traefik's standard output, which the
 * process that started traefik reads.
 *
 * Measured on 2 cores (`deno task bench --sections=activity`): with one route saturated, traefik
 * serves about 0.8x the requests per second with its access log on, in any format and wherever it
 * goes, the same as with its Prometheus router counters; reading the lines here adds about 3%.
 * The counters would also have to be scraped whole (a size that grows with the table), and
 * neither source sees an open websocket.
 *
 * @module
 */

import type { ConfigTree } from "../core/types.ts";

/**
 * The static `accessLog` section: JSON, only the router name and status kept, only statuses
 * 0-299 written, with room for 20,000 lines in traefik (about a second of a saturated route on 2
 * cores, a few MB at most) so that a reader that pauses (a garbage collection, a large listing)
 * does not hold requests.
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
    bufferingSize: 20_000,
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
  // Read by position, not parsed whole: this runs for every request traefik serves. traefik
  // writes the fields in this order, and a router name has no character JSON escapes.
  if (!line.startsWith(STATUS)) return undefined;
  let end = STATUS.length;
  while (end < line.length && line.charCodeAt(end) >= 48 && line.charCodeAt(end) <= 57) end++;
  if (end === STATUS.length || (line[end] !== "," && line[end] !== "}")) return undefined;
  const status = Number(line.slice(STATUS.length, end));
  const at = line.indexOf(ROUTER, end);
  if (at === -1) return line.endsWith("}") ? { router: "", status } : undefined;
  const start = at + ROUTER.length;
  const close = line.indexOf('"', start);
  if (close === -1) return undefined;
  const router = line.slice(start, close);
  return router.includes("\\") ? undefined : { router, status };
}

const STATUS = '{"DownstreamStatus":';
const ROUTER = '"RouterName":"';
