/**
 * The poll loop the confirmers share: changes wait in one list, checked together once per
 * interval until they hold, their deadline passes (`RouteTimeoutError`) or the signal aborts.
 *
 * @module
 */

import { RouteTimeoutError } from "../core/errors.ts";

/** A change waited for. */
export interface Wait {
  /** Its routespec. */
  routespec: string;
  /** What traefik must show. */
  state: "served" | "removed";
}

/** Options of `waitPoller`. */
export interface WaitPollerOptions<W extends Wait> {
  /** How long each wait may take, in ms. */
  timeoutMs: number;
  /** Pause between checks, in ms. */
  intervalMs: number;
  /** Ends the poller: pending waits reject with the signal's reason, no more checks. */
  signal?: AbortSignal;
  /** The waits that hold now; a rejection (traefik unreachable) leaves them all waiting. */
  check(waits: W[]): Promise<Set<W>>;
}

interface Pending<W> {
  wait: W;
  deadline: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A function that resolves once its wait holds; one loop checks all pending waits together.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { waitPoller } from "./_poll.ts";
 * let up = false;
 * const waitFor = waitPoller({
 *   timeoutMs: 1_000,
 *   intervalMs: 1,
 *   check: (waits) => Promise.resolve(new Set(up ? waits : [])),
 * });
 * const done = waitFor({ routespec: "/a/", state: "served" });
 * up = true;
 * await done;
 * assert.ok(up);
 * ```
 */
export function waitPoller<W extends Wait>(
  options: WaitPollerOptions<W>,
): (wait: W) => Promise<void> {
  const { signal } = options;
  let pending: Pending<W>[] = [];
  let looping = false;

  signal?.addEventListener("abort", () => {
    for (const p of pending) p.reject(signal.reason);
    pending = [];
  }, { once: true });

  async function loop(): Promise<void> {
    while (pending.length > 0) {
      let done = new Set<W>();
      try {
        done = await options.check(pending.map((p) => p.wait));
      } catch {
        // traefik unreachable for a moment (restarting): keep waiting until the deadline
      }
      const now = Date.now();
      pending = pending.filter((p) => {
        if (done.has(p.wait)) {
          p.resolve();
          return false;
        }
        if (now > p.deadline) {
          p.reject(new RouteTimeoutError(p.wait.routespec, p.wait.state, options.timeoutMs));
          return false;
        }
        return true;
      });
      if (pending.length > 0) await new Promise((r) => setTimeout(r, options.intervalMs));
    }
    looping = false;
  }

  return (wait) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      pending.push({ wait, deadline: Date.now() + options.timeoutMs, resolve, reject });
      if (!looping) {
        looping = true;
        loop();
      }
    });
}
