import assert from "node:assert/strict";
import { renderMetrics } from "./prometheus.ts";

Deno.test("renderMetrics escapes label values and help text", () => {
  const text = renderMetrics([{
    name: "x_total",
    help: "line one\nback\\slash",
    type: "counter",
    samples: [{ labels: { v: 'a\\b"c\nd' }, value: 1 }, { value: 2 }],
  }]);
  assert.equal(
    text,
    "# HELP x_total line one\\nback\\\\slash\n# TYPE x_total counter\n" +
      'x_total{v="a\\\\b\\"c\\nd"} 1\nx_total 2\n',
  );
});

Deno.test("renderMetrics writes cumulative buckets with their labels, +Inf as the count", () => {
  const text = renderMetrics([{
    name: "h",
    help: "h",
    type: "histogram",
    buckets: [1, 2, 5],
    samples: [{ labels: { method: "POST" }, counts: [2, 0, 1], sum: 9.5, count: 4 }],
  }]);
  assert.ok(text.includes('h_bucket{method="POST",le="1"} 2\n'));
  assert.ok(text.includes('h_bucket{method="POST",le="2"} 2\n'));
  assert.ok(text.includes('h_bucket{method="POST",le="5"} 3\n'));
  assert.ok(text.includes('h_bucket{method="POST",le="+Inf"} 4\n'));
  assert.ok(text.includes('h_sum{method="POST"} 9.5\nh_count{method="POST"} 4\n'));
});

Deno.test("renderMetrics writes special values as Prometheus does", () => {
  const text = renderMetrics([{
    name: "g",
    help: "g",
    type: "gauge",
    samples: [{ value: NaN }, { value: Infinity }, { value: -Infinity }],
  }]);
  assert.ok(text.endsWith("g NaN\ng +Inf\ng -Inf\n"));
});
