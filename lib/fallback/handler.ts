/**
 * The fallback's HTTP handler: the requests traefik's catch-all router sends here go to the
 * route the fallback router matches (CHP's rules: the longest whole-segment prefix, host
 * routing), else to the default target, else to a 404 page; a target that cannot be reached
 * answers a 503 page.
 *
 * @module
 */

import { rawRequestPath } from "../core/request_path.ts";
import { TargetError } from "../core/errors.ts";
import { badGateway, plainText } from "./_plain_text.ts";
import { forward, type TargetTls } from "./forward.ts";
import type { UpstreamPool } from "./upstream_pool.ts";
import type { RequestTarget } from "./router.ts";
import type { Route } from "../core/types.ts";

/**
 * Options of `fallbackHandler`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fallbackHandler, type FallbackHandlerOptions } from "./handler.ts";
 * const options: FallbackHandlerOptions = {
 *   notFound: () => new Response("nothing here", { status: 404 }),
 * };
 * const handler = fallbackHandler({ match: () => undefined }, options);
 * const response = await handler(new Request("http://127.0.0.1/user/nobody/"));
 * assert.equal(await response.text(), "nothing here");
 * ```
 */
export interface FallbackHandlerOptions {
  /** Where requests no route matches go (CHP's `--default-target`); default: `notFound`. */
  defaultTarget?: string;
  /** The answer when no route matches and there is no default target; default a plain 404. */
  notFound?: (request: Request) => Response | Promise<Response>;
  /** The answer when the target cannot be reached; default a plain 503. */
  unreachable?: (request: Request, error: unknown) => Response | Promise<Response>;
  /** The URL a target is reached at, when not the target itself (`http+unix://` relays). */
  targetUrl?: (target: string) => string;
  /** The connections to targets (`ForwardOptions.pool`); default a connection per request. */
  pool?: UpstreamPool;
  /** A `fetch` client for https targets, used only without `tls` (`ForwardOptions.client`). */
  client?: Deno.HttpClient;
  /**
   * The CAs and client certificate for https and wss targets (`ForwardOptions.tls`; read once
   * per object: give the same object, or equal material, for connections to be shared).
   */
  tls?: TargetTls;
  /**
   * Called with the routespec of a route whenever a request to it counts as activity
   * (`ForwardOptions.onActivity`); not for the default target.
   */
  onActivity?: (routespec: string) => void;
}

/**
 * Creates the handler over anything that matches requests to routes (a `FallbackRouter`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fallbackHandler } from "./handler.ts";
 * import { routeIndex } from "../core/route_index.ts";
 * const backend = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen: () => {} },
 *   (request) => new Response(`backend saw ${new URL(request.url).pathname}`),
 * );
 * const index = routeIndex();
 * const target = `http://127.0.0.1:${backend.addr.port}`;
 * index.apply({ set: [{ routespec: "/user/a%24b/", target, data: {} }] });
 * const handler = fallbackHandler(index, {});
 * const served = await handler(new Request("http://127.0.0.1/user/a$b/lab"));
 * assert.equal(await served.text(), "backend saw /user/a$b/lab");
 * const missing = await handler(new Request("http://127.0.0.1/user/c/"));
 * assert.equal(missing.status, 404);
 * await missing.body?.cancel();
 * await backend.shutdown();
 * ```
 */
export function fallbackHandler(
  router: { match(request: RequestTarget): Route | undefined },
  options: FallbackHandlerOptions,
): (request: Request) => Promise<Response> {
  const notFound = options.notFound ??
    ((request: Request) => plainText(404, `404 Not Found: ${rawRequestPath(request.url)}`));
  const forwardOptions = {
    ...(options.unreachable ? { onUnreachable: options.unreachable } : {}),
    ...(options.client ? { client: options.client } : {}),
    ...(options.pool ? { pool: options.pool } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
  };
  return async (request) => {
    const path = rawRequestPath(request.url).replace(/[?#].*$/, "");
    const route = router.match({ path, host: request.headers.get("host") });
    const target = route?.target ?? options.defaultTarget;
    if (target === undefined) {
      await request.body?.cancel().catch(() => {});
      return await notFound(request);
    }
    const onActivity = route && options.onActivity
      ? () => options.onActivity!(route.routespec)
      : undefined;
    try {
      return await forward(request, options.targetUrl?.(target) ?? target, {
        ...forwardOptions,
        onActivity,
      });
    } catch (error) {
      // A target no proxy can reach (written to a shared store by another writer).
      if (!(error instanceof TargetError)) throw error;
      await request.body?.cancel().catch(() => {});
      return badGateway(error.message);
    }
  };
}
