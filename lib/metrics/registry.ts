/**
 * A small registry of Prometheus metrics for one running proxy: counters and histograms that
 * the code updates, gauges read when scraped, rendered in Prometheus' text format.
 *
 * @module
 */

import { type Labels, type MetricFamily, renderMetrics } from "../core/prometheus.ts";

/** A counter with labels. */
export interface Counter {
  /** Adds `by` (default 1) to the series of `labels`. */
  inc(labels?: Labels, by?: number): void;
}

/** A histogram with labels. */
export interface Histogram {
  /** Records one observation in the series of `labels`. */
  observe(value: number, labels?: Labels): void;
}

/** A metric whose samples are read when scraped. */
export interface Collected {
  /** Metric name. */
  name: string;
  /** Its help text. */
  help: string;
  /** `counter` for a total kept elsewhere, else `gauge`. */
  type: "counter" | "gauge";
  /** The samples now (none: the family is left out). */
  collect(): { labels?: Labels; value: number }[] | Promise<{ labels?: Labels; value: number }[]>;
}

/** See `metricsRegistry`. */
export interface MetricsRegistry {
  /** A new counter `name` (which should end in `_total`). */
  counter(name: string, help: string): Counter;
  /** A new histogram `name` with these upper bounds. */
  histogram(name: string, help: string, buckets: number[]): Histogram;
  /** A metric read when scraped. */
  collected(metric: Collected): void;
  /** A metric of one sample without labels, read when scraped (left out while undefined). */
  single(metric: Omit<Collected, "collect"> & { read(): number | undefined }): void;
  /** Every metric in Prometheus' text format. */
  render(): Promise<string>;
}

/**
 * Creates an empty registry.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { metricsRegistry } from "./registry.ts";
 * const registry = metricsRegistry();
 * const requests = registry.counter("api_requests_total", "REST requests.");
 * requests.inc({ method: "GET", code: "200" });
 * requests.inc({ method: "GET", code: "200" });
 * registry.collected({ name: "routes", help: "Routes.", type: "gauge", collect: () => [{ value: 7 }] });
 * registry.single({ name: "restarts_total", help: "Restarts.", type: "counter", read: () => 2 });
 * registry.single({ name: "expiry", help: "Expiry.", type: "gauge", read: () => undefined });
 * const text = await registry.render();
 * assert.ok(text.includes('api_requests_total{method="GET",code="200"} 2\n'));
 * assert.ok(text.includes("routes 7\n"));
 * assert.ok(text.includes("restarts_total 2\n"));
 * assert.ok(!text.includes("expiry"));
 * ```
 */
export function metricsRegistry(): MetricsRegistry {
  const families: (() => Promise<MetricFamily | undefined>)[] = [];
  function collected(metric: Collected): void {
    families.push(async () => {
      const samples = await metric.collect();
      if (samples.length === 0) return undefined;
      return { name: metric.name, help: metric.help, type: metric.type, samples };
    });
  }
  return {
    counter(name, help) {
      const series = new Map<string, { labels?: Labels; value: number }>();
      families.push(() =>
        Promise.resolve({ name, help, type: "counter", samples: [...series.values()] })
      );
      return {
        inc(labels, by = 1) {
          const key = JSON.stringify(labels ?? {});
          const sample = series.get(key);
          if (sample) sample.value += by;
          else series.set(key, { labels, value: by });
        },
      };
    },
    histogram(name, help, buckets) {
      const series = new Map<
        string,
        { labels?: Labels; counts: number[]; sum: number; count: number }
      >();
      families.push(() =>
        Promise.resolve({ name, help, type: "histogram", buckets, samples: [...series.values()] })
      );
      return {
        observe(value, labels) {
          const key = JSON.stringify(labels ?? {});
          let sample = series.get(key);
          if (!sample) {
            sample = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
            series.set(key, sample);
          }
          const index = buckets.findIndex((bound) => value <= bound);
          if (index !== -1) sample.counts[index]++;
          sample.sum += value;
          sample.count++;
        },
      };
    },
    collected,
    single(metric) {
      collected({
        ...metric,
        collect: () => {
          const value = metric.read();
          return value === undefined ? [] : [{ value }];
        },
      });
    },
    async render() {
      const all = await Promise.all(families.map((family) => family()));
      return renderMetrics(all.filter((family) => family !== undefined));
    },
  };
}
