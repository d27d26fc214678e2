/**
 * traefik's side of the fallback: the catch-all router that sends every request traefik has no
 * route for to this process, at `FALLBACK_PRIORITY` (above the root route, below every other).
 *
 * @module
 */

import { FALLBACK_PRIORITY, goString, WEBSOCKET_PRIORITY } from "../core/rule.ts";
import type { ConfigTree } from "../core/types.ts";
import { FallbackError } from "../core/errors.ts";

/** Name of the catch-all router and of its service. */
export const FALLBACK_ROUTER = "jupyterhub-fallback";

/**
 * Name of the router that sends every websocket handshake to the fallback (`websockets`), so
 * that this process sees the messages of open websockets: their route's activity.
 */
export const WEBSOCKET_ROUTER = "jupyterhub-websockets";

/**
 * Options of `fallbackConfig`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fallbackConfig, type FallbackConfigOptions } from "./fallback_router.ts";
 * const options: FallbackConfigOptions = { entryPoint: "http", url: "http://127.0.0.1:40001" };
 * assert.ok(JSON.stringify(fallbackConfig(options)).includes("40001"));
 * ```
 */
export interface FallbackConfigOptions {
  /** traefik's public entry point. */
  entryPoint: string;
  /** URL of the fallback server, as traefik reaches it. */
  url: string;
  /**
   * Send every websocket handshake to the fallback too (`WEBSOCKET_ROUTER`, above every route),
   * which relays the websocket to the route's target; default false.
   */
  websockets?: boolean;
}

/**
 * The dynamic configuration of the catch-all router and its service.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALLBACK_ROUTER, fallbackConfig, WEBSOCKET_ROUTER } from "./fallback_router.ts";
 * const config = fallbackConfig({ entryPoint: "http", url: "http://127.0.0.1:40001" });
 * const http = config.http as { routers: Record<string, { rule: string; priority: number }> };
 * assert.equal(http.routers[FALLBACK_ROUTER].rule, 'PathPrefix("/")');
 * assert.equal(http.routers[FALLBACK_ROUTER].priority, 102);
 * const relaying = fallbackConfig({ entryPoint: "http", url: "http://127.0.0.1:40001", websockets: true });
 * const rules = relaying.http as { routers: Record<string, { rule: string }> };
 * assert.equal(rules.routers[WEBSOCKET_ROUTER].rule, 'HeaderRegexp("Upgrade", "(?i)websocket")');
 * ```
 */
export function fallbackConfig(options: FallbackConfigOptions): ConfigTree {
  const routers: ConfigTree = {
    [FALLBACK_ROUTER]: {
      rule: 'PathPrefix("/")',
      service: FALLBACK_ROUTER,
      entryPoints: [options.entryPoint],
      priority: FALLBACK_PRIORITY,
    },
  };
  if (options.websockets) {
    routers[WEBSOCKET_ROUTER] = {
      rule: `HeaderRegexp(${goString("Upgrade")}, ${goString("(?i)websocket")})`,
      service: FALLBACK_ROUTER,
      entryPoints: [options.entryPoint],
      priority: WEBSOCKET_PRIORITY,
    };
  }
  return {
    http: {
      routers,
      services: {
        [FALLBACK_ROUTER]: {
          loadBalancer: { servers: [{ url: options.url }], passHostHeader: true },
        },
      },
    },
  };
}

/**
 * Options of `checkFallbackRouter`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CheckFallbackRouterOptions } from "./fallback_router.ts";
 * const options: CheckFallbackRouterOptions = { port: 8002, entryPoint: "http" };
 * assert.equal(options.port, 8002);
 * ```
 */
export interface CheckFallbackRouterOptions {
  /** The port the fallback server listens on, which the router's service must name. */
  port: number;
  /** traefik's public entry point (for the configuration shown in the error). */
  entryPoint: string;
  /** How long to wait for traefik to show the router, in ms; default 10,000. */
  timeoutMs?: number;
}

type RawRouter = { rule?: string; priority?: number; service?: string; status?: string };
type RawData = {
  routers?: Record<string, RawRouter>;
  services?: Record<string, { loadBalancer?: { servers?: { url?: string }[] } }>;
};

/**
 * Checks that an external traefik has the catch-all router to this process's fallback:
 * `PathPrefix("/")` at `FALLBACK_PRIORITY`, enabled, whose service names `port`. Without it the
 * root route would capture every route traefik has not loaded yet, so a proxy that
 * acknowledged routes at once would send users to the hub.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FallbackError } from "../core/errors.ts";
 * import { checkFallbackRouter } from "./fallback_router.ts";
 * const api = { get: () => Promise.resolve({ status: 200, body: { routers: {} } }) };
 * await assert.rejects(
 *   checkFallbackRouter(api, { port: 8002, entryPoint: "http", timeoutMs: 0 }),
 *   FallbackError,
 * );
 * ```
 * @throws {FallbackError} when traefik does not show the router within `timeoutMs`, with the
 *   configuration to add.
 */
export async function checkFallbackRouter(
  api: { get(path: string): Promise<{ status: number; body: unknown }> },
  options: CheckFallbackRouterOptions,
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const port = String(options.port);
  while (true) {
    try {
      const { status, body } = await api.get("/api/rawdata");
      const raw = body as RawData;
      if (status === 200) {
        for (const [name, router] of Object.entries(raw.routers ?? {})) {
          if (
            router.priority !== FALLBACK_PRIORITY || router.status === "disabled" ||
            !/^PathPrefix\(\s*["`]\/["`]\s*\)$/.test(router.rule ?? "")
          ) continue;
          // A router names its service without the provider when both come from the same one.
          let service = router.service ?? "";
          if (!service.includes("@")) service += name.slice(name.lastIndexOf("@"));
          const servers = raw.services?.[service]?.loadBalancer?.servers ?? [];
          if (servers.some((server) => portOf(server.url) === port)) return;
        }
      }
    } catch {
      // traefik not reachable yet
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const example = fallbackConfig({
    entryPoint: options.entryPoint,
    url: `http://<this host>:${port}`,
  });
  throw new FallbackError(
    `the external traefik has no catch-all router to this process's fallback on port ${port}; ` +
      `add it to traefik's dynamic configuration: ${JSON.stringify(example)}`,
  );
}

function portOf(url: string | undefined): string | undefined {
  try {
    const parsed = new URL(url ?? "");
    return parsed.port || (parsed.protocol === "https:" ? "443" : "80");
  } catch {
    return undefined;
  }
}
