/**
 * Prometheus' text exposition format (version 0.0.4): metric families with their `# HELP` and
 * `# TYPE` lines, label values escaped, histograms as cumulative `_bucket` series with `+Inf`,
 * `_sum` and `_count`.
 *
 * @module
 */

/** Label names to values. */
export type Labels = Record<string, string>;

/** One metric family and its samples. */
export type MetricFamily =
  | {
    name: string;
    help: string;
    type: "counter" | "gauge";
    samples: { labels?: Labels; value: number }[];
  }
  | {
    name: string;
    help: string;
    type: "histogram";
    /** Upper bounds of the buckets, ascending, without `+Inf`. */
    buckets: number[];
    samples: { labels?: Labels; counts: number[]; sum: number; count: number }[];
  };

/**
 * Renders families as Prometheus text. A histogram sample's `counts` are per bucket (not
 * cumulative), one per bound; `count` includes the observations above the last bound.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMetrics } from "./prometheus.ts";
 * const text = renderMetrics([
 *   {
 *     name: "requests_total",
 *     help: "Requests.",
 *     type: "counter",
 *     samples: [{ labels: { method: "GET", path: 'a"b' }, value: 3 }],
 *   },
 *   {
 *     name: "latency_seconds",
 *     help: "Latency.",
 *     type: "histogram",
 *     buckets: [0.1, 1],
 *     samples: [{ counts: [1, 1], sum: 0.65, count: 3 }],
 *   },
 * ]);
 * assert.equal(
 *   text,
 *   "# HELP requests_total Requests.\n" +
 *     "# TYPE requests_total counter\n" +
 *     'requests_total{method="GET",path="a\\"b"} 3\n' +
 *     "# HELP latency_seconds Latency.\n" +
 *     "# TYPE latency_seconds histogram\n" +
 *     'latency_seconds_bucket{le="0.1"} 1\n' +
 *     'latency_seconds_bucket{le="1"} 2\n' +
 *     'latency_seconds_bucket{le="+Inf"} 3\n' +
 *     "latency_seconds_sum 0.65\n" +
 *     "latency_seconds_count 3\n",
 * );
 * ```
 */
export function renderMetrics(families: MetricFamily[]): string {
  let out = "";
  for (const family of families) {
    out += `# HELP ${family.name} ${escapeHelp(family.help)}\n`;
    out += `# TYPE ${family.name} ${family.type}\n`;
    if (family.type !== "histogram") {
      for (const sample of family.samples) {
        out += `${family.name}${labels(sample.labels)} ${number(sample.value)}\n`;
      }
      continue;
    }
    for (const sample of family.samples) {
      let cumulative = 0;
      family.buckets.forEach((bound, i) => {
        cumulative += sample.counts[i] ?? 0;
        const le = { ...sample.labels, le: number(bound) };
        out += `${family.name}_bucket${labels(le)} ${cumulative}\n`;
      });
      out += `${family.name}_bucket${labels({ ...sample.labels, le: "+Inf" })} ${sample.count}\n`;
      out += `${family.name}_sum${labels(sample.labels)} ${number(sample.sum)}\n`;
      out += `${family.name}_count${labels(sample.labels)} ${sample.count}\n`;
    }
  }
  return out;
}

function labels(set: Labels | undefined): string {
  if (set === undefined) return "";
  const pairs = Object.entries(set).map(([name, value]) => `${name}="${escapeValue(value)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function escapeValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
