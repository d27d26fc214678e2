import assert from "node:assert/strict";
import { lineChart } from "./plot.ts";
import { parseWrk } from "./throughput.ts";
import { percentile } from "./workload.ts";

Deno.test("parseWrk reads requests/s and latency percentiles in any unit", () => {
  const text = [
    "  Latency Distribution",
    "     50%  850.00us",
    "     75%    1.20ms",
    "     90%    2.00ms",
    "     99%    1.50s",
    "Requests/sec:  12000.50",
  ].join("\n");
  assert.deepEqual(parseWrk(text), { rps: 12000.5, p50: 0.85, p99: 1500 });
});

Deno.test("percentile uses the nearest rank and is NaN for no values", () => {
  assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
  assert.ok(Number.isNaN(percentile([], 50)));
});

Deno.test("lineChart draws one line and legend entry per series, escaped", () => {
  const svg = lineChart([
    { name: "a<b", points: [[100, 5], [1000, 50]] },
    { name: "c", points: [[100, 2]] },
    { name: "floor", points: [[100, 3], [1000, 30]], dashed: true },
  ], { title: "t", xLabel: "x", yLabel: "y" });
  assert.ok(svg.startsWith("<svg"));
  assert.equal(svg.match(/<polyline/g)?.length, 2, "a single point draws no line");
  assert.equal(svg.match(/stroke-dasharray/g)?.length, 1);
  assert.equal(svg.match(/<circle/g)?.length, 5);
  assert.ok(svg.includes("a&lt;b"));
});
