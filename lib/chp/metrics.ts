/**
 * This process's Prometheus metrics, served on CHP's `--metrics-ip/--metrics-port` together
 * with those of the traefik it started (read from traefik's private API address at each scrape
 * and appended: one scrape target per replica). Names follow Prometheus' conventions under the
 * prefix `jupyterhub_proxy_`; traefik's keep theirs (`traefik_`).
 *
 * @module
 */

import { metricsRegistry } from "../metrics/registry.ts";
import type { RunningProxy } from "../proxy.ts";

/** The methods counted by name; any other is `other`. */
const API_METHODS = new Set(["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]);

/** Upper bounds, in seconds, of the latency histograms. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the rest of the process reports to the metrics. */
export interface ProxyMetrics {
  /** A REST API request answered `status` after `ms`. */
  apiRequest(method: string, status: number, ms: number): void;
  /** traefik took a change over from the fallback `ms` after it was acknowledged. */
  takeover(ms: number): void;
  /** A route reached this process's copy of the table `ms` after it was created. */
  watchLag(ms: number): void;
  /** Every metric (this process's, then traefik's), in Prometheus' text format. */
  render(): Promise<string>;
}

/** Options of `proxyMetrics`. */
export interface ProxyMetricsOptions {
  /** The running proxy, once it runs (routes, activity, drift, traefik's restarts). */
  proxy: () => RunningProxy | undefined;
  /** The provider of the routes, for the `provider` label. */
  provider: string;
  /** traefik's own metrics text (from its API), or undefined when there are none. */
  traefikMetrics?: () => Promise<string | undefined>;
  /** When the public certificate expires (ACME), if there is one. */
  certificateNotAfter?: () => Date | undefined;
}

/**
 * Creates the metrics of one proxy process.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { proxyMetrics } from "./metrics.ts";
 * const metrics = proxyMetrics({ proxy: () => undefined, provider: "file" });
 * metrics.apiRequest("POST", 201, 12);
 * const text = await metrics.render();
 * assert.ok(text.includes('jupyterhub_proxy_api_requests_total{method="POST",code="201"} 1\n'));
 * assert.ok(text.includes('jupyterhub_proxy_route_change_seconds_bucket{method="POST",le="0.025"} 1\n'));
 * ```
 */
export function proxyMetrics(options: ProxyMetricsOptions): ProxyMetrics {
  const registry = metricsRegistry();
  const requests = registry.counter(
    "jupyterhub_proxy_api_requests_total",
    "REST API requests, by method and status code.",
  );
  const changes = registry.histogram(
    "jupyterhub_proxy_route_change_seconds",
    "Time from a route change's request to its acknowledgement (POST: the route is served, by " +
      "the fallback or traefik; DELETE: traefik no longer routes it), in seconds.",
    LATENCY_BUCKETS,
  );
  const timeouts = registry.counter(
    "jupyterhub_proxy_route_change_timeouts_total",
    "Route changes traefik did not confirm in time (answered 504).",
  );
  const storeErrors = registry.counter(
    "jupyterhub_proxy_store_errors_total",
    "REST API requests that failed because the route store could not be read or written (503).",
  );
  const takeovers = registry.histogram(
    "jupyterhub_proxy_traefik_takeover_seconds",
    "Time from a change's acknowledgement until traefik serves it itself, in seconds.",
    LATENCY_BUCKETS,
  );
  const lags = registry.histogram(
    "jupyterhub_proxy_watch_lag_seconds",
    "Time from a route's creation (by any replica) until this process's copy of the table has " +
      "it, in seconds.",
    LATENCY_BUCKETS,
  );
  const proxy = options.proxy;
  registry.collected({
    name: "jupyterhub_proxy_routes",
    help: "Routes in the table, by provider.",
    type: "gauge",
    async collect() {
      const running = proxy();
      if (!running) return [];
      const routes = await running.store.getAllRoutes();
      return [{ labels: { provider: options.provider }, value: routes.size }];
    },
  });
  registry.single({
    name: "jupyterhub_proxy_store_watch_resets_total",
    help: "Times the watch of a shared store was lost and the table read again.",
    type: "counter",
    read: () => proxy()?.watchResets?.(),
  });
  registry.single({
    name: "jupyterhub_proxy_drift_checks_total",
    help: "Comparisons of traefik's routers and services with the table.",
    type: "counter",
    read: () => proxy()?.drift?.checks,
  });
  registry.single({
    name: "jupyterhub_proxy_drift_repairs_total",
    help: "Routes written again for traefik (missing or stale) or removed again (stray).",
    type: "counter",
    read: () => proxy()?.drift?.repairs,
  });
  registry.single({
    name: "jupyterhub_proxy_activity_writes_total",
    help: "Routes' activity times written to the store or the file beside the routes.",
    type: "counter",
    read: () => proxy()?.activity?.written,
  });
  registry.single({
    name: "jupyterhub_proxy_traefik_restarts_total",
    help: "Times the traefik this process supervises was restarted after it exited.",
    type: "counter",
    read: () => proxy()?.traefik?.restarts,
  });
  registry.single({
    name: "jupyterhub_proxy_certificate_expiry_timestamp_seconds",
    help: "When the public certificate from the ACME server expires, in seconds since the epoch.",
    type: "gauge",
    read: () => {
      const notAfter = options.certificateNotAfter?.();
      return notAfter && notAfter.getTime() / 1000;
    },
  });
  registry.single({
    // Not process_resident_memory_bytes: traefik's own family of that name follows.
    name: "jupyterhub_proxy_resident_memory_bytes",
    help: "Resident memory of this process, in bytes.",
    type: "gauge",
    read: () => Deno.memoryUsage().rss,
  });
  registry.single({
    name: "jupyterhub_proxy_heap_used_bytes",
    help: "JavaScript heap in use in this process, in bytes.",
    type: "gauge",
    read: () => Deno.memoryUsage().heapUsed,
  });

  return {
    apiRequest(given, status, ms) {
      // Only the methods there are: a client cannot make up series.
      const method = API_METHODS.has(given) ? given : "other";
      requests.inc({ method, code: String(status) });
      if ((method === "POST" && status === 201) || (method === "DELETE" && status === 204)) {
        changes.observe(ms / 1000, { method });
      }
      if (status === 504) timeouts.inc();
      if (status === 503) storeErrors.inc();
    },
    takeover: (ms) => takeovers.observe(ms / 1000),
    watchLag: (ms) => lags.observe(ms / 1000),
    async render() {
      const own = await registry.render();
      const traefik = await options.traefikMetrics?.().catch(() => undefined);
      return traefik ? own + traefik : own;
    },
  };
}
