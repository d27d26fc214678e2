/**
 * configurable-http-proxy's REST API over a route table, as JupyterHub's `ConfigurableHTTPProxy`
 * calls it: `GET /api/routes[?inactive_since=]`, `GET|POST|DELETE /api/routes/<path>`.
 * A POST answers 201 only once traefik serves the new target; a DELETE answers once traefik
 * no longer has the route.
 *
 * @module
 */

import { rawRequestPath } from "../core/request_path.ts";
import { chpPathFromRoutespec, routespecFromChpPath } from "./path.ts";
import {
  ProxyError,
  RouteDataError,
  RoutespecError,
  RouteTimeoutError,
  StoreError,
  TargetError,
} from "../core/errors.ts";
import { addRoute, deleteRoute, getAllRoutes, getRoute, type RouteTable } from "../routes.ts";
import type { JsonValue, Route, RouteData } from "../core/types.ts";
import { withFlagHint } from "./error_hint.ts";

/**
 * Options of `chpHandler`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { chpHandler, type ChpHandlerOptions } from "./api_handler.ts";
 * import { memoryStore } from "../../providers/memory.ts";
 * const options: ChpHandlerOptions = { authToken: "s", hostRouting: true };
 * const response = await chpHandler(memoryStore(), options)(
 *   new Request("http://127.0.0.1:8001/api/routes"),
 * );
 * assert.equal(response.status, 403);
 * ```
 */
export interface ChpHandlerOptions {
  /** Required token (`Authorization: token <t>`); none = open, as CHP without a token. */
  authToken?: string;
  /** Host routing: the first path segment is the host. */
  hostRouting?: boolean;
  /** Largest accepted request body, in bytes; default 256 KiB. */
  maxBodyBytes?: number;
  /** Receives one line per failed request. */
  log?: (message: string) => void;
  /**
   * Routes' activity from traffic (`ActivityTracker`): `last_activity` is the later of the
   * route's own time (when it was added) and this; a deleted route's activity is dropped.
   */
  activity?: {
    lastActivity(): Promise<Map<string, string>>;
    lastActivityOf(routespec: string): Promise<string | undefined>;
    forget(routespec: string): Promise<void>;
  };
}

/**
 * The JSON object CHP returns for a route: its data, `target`, `jupyterhub: true` and
 * `last_activity` when known.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { chpRoute } from "./api_handler.ts";
 * const route = {
 *   routespec: "/user/a/",
 *   target: "http://127.0.0.1:9000",
 *   data: { user: "a" },
 *   lastActivity: "2024-01-01T00:00:00.000Z",
 * };
 * assert.deepEqual(chpRoute(route), {
 *   jupyterhub: true,
 *   user: "a",
 *   target: "http://127.0.0.1:9000",
 *   last_activity: "2024-01-01T00:00:00.000Z",
 * });
 * ```
 */
export function chpRoute(route: Route): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = { jupyterhub: true, ...route.data, target: route.target };
  if (route.lastActivity) out.last_activity = route.lastActivity;
  return out;
}

const PREFIX = "/api/routes";

/**
 * Creates the request handler. Failures answer JSON `{status, message}`: 400 for bad input,
 * 403 (empty) without the token, 404, 405, 413, 503 when the store fails, 504 when traefik does
 * not confirm a change in time.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { chpHandler } from "./api_handler.ts";
 * import { memoryStore } from "../../providers/memory.ts";
 * const handler = chpHandler(memoryStore(), { authToken: "s" });
 * const headers = { authorization: "token s" };
 * const post = await handler(new Request("http://127.0.0.1:8001/api/routes/user/a", {
 *   method: "POST",
 *   headers,
 *   body: JSON.stringify({ target: "http://127.0.0.1:9000" }),
 * }));
 * assert.equal(post.status, 201);
 * const list = await handler(new Request("http://127.0.0.1:8001/api/routes", { headers }));
 * assert.deepEqual(Object.keys(await list.json()), ["/user/a"]);
 * ```
 */
export function chpHandler(
  table: RouteTable,
  options: ChpHandlerOptions = {},
): (request: Request) => Promise<Response> {
  const maxBody = options.maxBodyBytes ?? 256 * 1024;
  const log = options.log ?? (() => {});
  return async (request) => {
    const url = new URL(request.url);
    // The raw path, percent-encoding intact.
    const rawPath = rawRequestPath(request.url).replace(/[?#].*$/, "");
    try {
      if (!authorized(request, options.authToken)) {
        await request.body?.cancel();
        return new Response(null, { status: 403 });
      }
      if (rawPath !== PREFIX && !rawPath.startsWith(PREFIX + "/")) {
        return error(404, `no such endpoint ${url.pathname}; the API is under ${PREFIX}`);
      }
      const path = rawPath.slice(PREFIX.length);
      const method = request.method;
      if (path === "" && method === "GET") return await list(url);
      const routespec = routespecFromChpPath(path, { hostRouting: options.hostRouting });
      if (method === "GET") {
        const route = await getRoute(table, routespec);
        if (!route) return error(404, `no route ${path}`);
        const time = await options.activity?.lastActivityOf(routespec).catch((err) =>
          unknownActivity(err)
        );
        return Response.json(chpRoute(withActivity(route, time)));
      }
      if (method === "POST") return await post(request, routespec);
      if (method === "DELETE") {
        if (!await deleteRoute(table, routespec)) return error(404, `no route ${path}`);
        await options.activity?.forget(routespec).catch((err) =>
          log(`DELETE ${rawPath}: its activity stays in the store: ${(err as Error).message}`)
        );
        return new Response(null, { status: 204 });
      }
      return error(405, `method ${method} is not allowed; use GET, POST or DELETE`);
    } catch (err) {
      const response = errorResponse(err);
      log(`${request.method} ${rawPath}: ${response.status} ${(err as Error).message}`);
      return response;
    } finally {
      if (!request.bodyUsed) await request.body?.cancel().catch(() => {});
    }
  };

  async function list(url: URL): Promise<Response> {
    const since = url.searchParams.get("inactive_since") ?? url.searchParams.get("inactiveSince");
    let sinceMs: number | undefined;
    if (since !== null) {
      sinceMs = Date.parse(since);
      if (Number.isNaN(sinceMs)) return error(400, `invalid inactive_since date ${since}`);
    }
    const body: Record<string, JsonValue> = {};
    const [routes, times] = await Promise.all([
      getAllRoutes(table),
      options.activity?.lastActivity().catch((err) => unknownActivity(err)),
    ]);
    for (const stored of routes.values()) {
      const route = withActivity(stored, times?.get(stored.routespec));
      if (
        sinceMs !== undefined && route.lastActivity && Date.parse(route.lastActivity) >= sinceMs
      ) {
        continue;
      }
      body[chpPathFromRoutespec(route.routespec)] = chpRoute(route);
    }
    return Response.json(body);
  }

  /** Routes' activity could not be read: the routes answer with their own times. */
  function unknownActivity(err: unknown): undefined {
    log(
      `routes' activity could not be read (their own times are answered): ${
        (err as Error).message
      }`,
    );
    return undefined;
  }

  async function post(request: Request, routespec: string): Promise<Response> {
    const length = Number(request.headers.get("content-length") ?? "0");
    if (length > maxBody) return error(413, `request body is larger than ${maxBody} bytes`);
    const text = await readLimited(request, maxBody);
    if (text === undefined) return error(413, `request body is larger than ${maxBody} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return error(400, "the body is not valid JSON");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return error(400, 'the body must be a JSON object such as {"target": "http://..."}');
    }
    const { target, jupyterhub, last_activity: _ignored, ...rest } = body as Record<
      string,
      JsonValue
    >;
    if (typeof target !== "string") return error(400, "the body needs a string 'target'");
    const data: RouteData = jupyterhub === true || jupyterhub === undefined
      ? rest
      : { ...rest, jupyterhub };
    await addRoute(table, { routespec, target, data });
    return new Response(null, { status: 201 });
  }
}

function authorized(request: Request, token: string | undefined): boolean {
  if (!token) return true;
  const match = /^token\s+(\S+)/i.exec(request.headers.get("authorization") ?? "");
  if (!match) return false;
  const given = new TextEncoder().encode(match[1]);
  const want = new TextEncoder().encode(token);
  let diff = given.length ^ want.length;
  for (let i = 0; i < want.length; i++) diff |= want[i] ^ (given[i] ?? 0);
  return diff === 0;
}

async function readLimited(request: Request, limit: number): Promise<string | undefined> {
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(all);
}

function error(status: number, message: string): Response {
  return Response.json({ status, message }, { status });
}

function errorResponse(err: unknown): Response {
  if (
    err instanceof RoutespecError || err instanceof TargetError || err instanceof RouteDataError
  ) return error(400, err.message);
  if (err instanceof RouteTimeoutError) return error(504, withFlagHint(err));
  if (err instanceof StoreError) return error(503, err.message);
  if (err instanceof ProxyError) return error(500, err.message);
  return error(500, `internal error: ${(err as Error)?.message ?? String(err)}`);
}

/** `route` with the later of its own `lastActivity` and `time`. */
function withActivity(route: Route, time: string | undefined): Route {
  if (time === undefined) return route;
  if (route.lastActivity !== undefined && !(Date.parse(route.lastActivity) < Date.parse(time))) {
    return route;
  }
  return { ...route, lastActivity: time };
}
