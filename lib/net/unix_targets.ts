/**
 * Loopback relays in front of `http+unix://` targets: traefik (and `fetch`) cannot dial a unix
 * socket, so each socket a route targets gets a private `127.0.0.1` port that relays to it. The
 * store keeps the target as the hub sent it; only the URL traefik and the fallback use changes.
 * A relay stays while a route targets its socket, and a while after (traefik may still send a
 * request or two to a route being removed).
 *
 * @module
 */

import type { Route, RouteChange } from "../core/types.ts";
import { unixTarget } from "../core/unix_target.ts";
import { type ConnectionRelay, relayConnections } from "./relay.ts";

/**
 * The relays of one process. `url` is what renders a route for traefik; `apply` follows the
 * table (`Store.mirror`), so that relays no route uses any more are closed.
 */
export interface UnixTargetRelays {
  /**
   * The URL to reach `target` at: `http://127.0.0.1:<port><path>` for an `http+unix://`
   * target (the relay is opened now if it is not open yet), the target itself otherwise.
   */
  url(target: string): string;
  /** Follows the table: which routes target which socket. */
  apply(change: RouteChange): Promise<void>;
  /** The routes `apply` needs: those with an `http+unix://` target (`MirrorTarget.wants`). */
  wants(route: Route): boolean;
  /** How many relays are open now. */
  readonly size: number;
  /** Closes every relay. */
  close(): Promise<void>;
}

/**
 * Options of `unixTargetRelays`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UnixTargetRelaysOptions } from "./unix_targets.ts";
 * const options: UnixTargetRelaysOptions = { keepMs: 1_000 };
 * assert.equal(options.keepMs, 1_000);
 * ```
 */
export interface UnixTargetRelaysOptions {
  /** How long a relay no route uses stays open, in ms; default 60,000. */
  keepMs?: number;
}

/**
 * Creates the relays of one process.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { unixTargetRelays } from "./unix_targets.ts";
 * const relays = unixTargetRelays();
 * assert.equal(relays.url("http://127.0.0.1:8888"), "http://127.0.0.1:8888");
 * const url = relays.url("http+unix://%2Frun%2Fa.sock/user/a/");
 * assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/user\/a\/$/);
 * assert.equal(relays.url("http+unix://%2Frun%2Fa.sock"), url.replace("/user/a/", ""));
 * assert.equal(relays.size, 1);
 * await relays.close();
 * ```
 */
export function unixTargetRelays(options: UnixTargetRelaysOptions = {}): UnixTargetRelays {
  const keepMs = options.keepMs ?? 60_000;
  const relays = new Map<string, { port: number; relay: ConnectionRelay; idleSince?: number }>();
  const users = new Map<string, string>(); // routespec -> socket
  let sweep: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const schedule = () => {
    if (sweep !== undefined || closed) return;
    sweep = setTimeout(() => {
      sweep = undefined;
      const used = new Set(users.values());
      const now = performance.now();
      let waiting = false;
      for (const [socket, entry] of relays) {
        if (used.has(socket)) {
          entry.idleSince = undefined;
        } else if (entry.idleSince === undefined || now - entry.idleSince < keepMs) {
          entry.idleSince ??= now;
          waiting = true;
        } else {
          relays.delete(socket);
          entry.relay.close();
        }
      }
      if (waiting) schedule();
    }, keepMs);
    Deno.unrefTimer(sweep);
  };

  return {
    url(target) {
      const parts = unixTarget(target);
      if (!parts) return target;
      let entry = relays.get(parts.socket);
      if (!entry) {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const socket = parts.socket;
        const relay = relayConnections(
          listener,
          () => Deno.connect({ transport: "unix", path: socket }),
        );
        entry = { port: listener.addr.port, relay };
        relays.set(socket, entry);
        // Opened for a route the table may not hold (yet): the sweep decides later.
        schedule();
      }
      return `http://127.0.0.1:${entry.port}${parts.path}`;
    },
    apply(change) {
      for (const routespec of change.delete ?? []) users.delete(routespec);
      for (const route of change.set ?? []) {
        const socket = unixTarget(route.target)?.socket;
        if (socket) users.set(route.routespec, socket);
        else users.delete(route.routespec);
      }
      if (relays.size > 0) schedule();
      return Promise.resolve();
    },
    wants: (route) => unixTarget(route.target) !== undefined,
    get size() {
      return relays.size;
    },
    async close() {
      closed = true;
      clearTimeout(sweep);
      const all = [...relays.values()];
      relays.clear();
      await Promise.all(all.map((entry) => entry.relay.close()));
    },
  };
}
