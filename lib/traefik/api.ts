/**
 * A minimal client of traefik's API (basicAuth, JSON bodies).
 *
 * @module
 */

/** Connection details of traefik's API. */
export interface TraefikApiOptions {
  /** Base URL of the API entry point, e.g. `http://127.0.0.1:8099`. */
  url: string;
  /** basicAuth user name, if the API is protected. */
  username?: string;
  /** basicAuth password. */
  password?: string;
}

/** A minimal client of traefik's API. */
export interface TraefikApi {
  /** Base URL. */
  readonly url: string;
  /** GETs `path` (e.g. `/api/rawdata`); resolves to the status and the parsed JSON body. */
  get(path: string): Promise<{ status: number; body: unknown }>;
}

/**
 * Creates a client of traefik's API.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { traefikApi } from "./api.ts";
 * // A stand-in for traefik's API that wants basicAuth u:p.
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) =>
 *   request.headers.get("authorization") === "Basic " + btoa("u:p")
 *     ? Response.json({ routers: {} })
 *     : new Response("no", { status: 401 }));
 * const api = traefikApi({ url: `http://127.0.0.1:${server.addr.port}/`, username: "u", password: "p" });
 * assert.deepEqual(await api.get("/api/rawdata"), { status: 200, body: { routers: {} } });
 * await server.shutdown();
 * ```
 */
export function traefikApi(options: TraefikApiOptions): TraefikApi {
  const base = options.url.replace(/\/+$/, "");
  const headers: HeadersInit = {};
  if (options.username !== undefined || options.password !== undefined) {
    headers.authorization = "Basic " + btoa(`${options.username ?? ""}:${options.password ?? ""}`);
  }
  return {
    url: base,
    async get(path: string) {
      const response = await fetch(base + path, { headers, signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body };
    },
  };
}
