/**
 * `--metrics-ip/--metrics-port`: this process's metrics and its traefik's, in Prometheus' text
 * format, parsed by the Prometheus project's own Python parser (`prometheus_client`, which
 * JupyterHub installs), with counters that move with the traffic.
 */

import assert from "node:assert/strict";
import { api, startCli } from "./cli_helpers.ts";
import { freePort, startBackend } from "./helpers.ts";

const PYTHON = new URL("../.tools/venv/bin/python", import.meta.url).pathname;

/** One parsed sample: metric family, sample name, labels, value. */
interface Sample {
  family: string;
  type: string;
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text with `prometheus_client.parser`; throws when it does not parse. */
async function parseMetrics(text: string): Promise<Sample[]> {
  const script = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
print(json.dumps(out))
`;
  const child = new Deno.Command(PYTHON, {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `prometheus_client could not parse the metrics: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((sample) =>
    sample.name === name &&
    Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted)
  );
  return found.reduce((sum, sample) => sum + sample.value, 0);
}

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return await parseMetrics(await response.text());
}

Deno.test({
  name: "/metrics: this process's and traefik's metrics parse, and counters move with traffic",
  ignore: !(await Deno.stat(PYTHON).then(() => true, () => false)),
  async fn() {
    const backend = startBackend("metrics");
    const metricsPort = freePort();
    const cli = await startCli([
      "--metrics-ip",
      "127.0.0.1",
      "--metrics-port",
      String(metricsPort),
      "--activity-interval",
      "1",
    ]);
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    try {
      const before = await scrape(url);
      assert.equal(value(before, "jupyterhub_proxy_routes", { provider: "file" }), 0);
      assert.equal(value(before, "jupyterhub_proxy_api_requests_total"), 0);
      assert.ok(value(before, "jupyterhub_proxy_resident_memory_bytes") > 10_000_000);
      // traefik's own, merged in: it has loaded its configuration at least once.
      assert.ok(value(before, "traefik_config_reloads_total") >= 1, "traefik's metrics are there");

      for (const user of ["a", "b", "c"]) {
        assert.equal(
          (await api(cli, "POST", `/user/${user}`, { target: backend.url })).status,
          201,
        );
      }
      assert.equal((await api(cli, "DELETE", "/user/c")).status, 204);
      assert.equal((await api(cli, "GET", "/user/nobody")).status, 404);
      for (let i = 0; i < 5; i++) {
        const response = await fetch(`${cli.publicUrl}/user/a/x`);
        await response.body?.cancel();
      }
      await new Promise((resolve) => setTimeout(resolve, 2_500));

      const after = await scrape(url);
      assert.equal(value(after, "jupyterhub_proxy_routes", { provider: "file" }), 2);
      assert.equal(
        value(after, "jupyterhub_proxy_api_requests_total", { method: "POST", code: "201" }),
        3,
      );
      assert.equal(
        value(after, "jupyterhub_proxy_api_requests_total", { method: "GET", code: "404" }),
        1,
      );
      assert.equal(
        value(after, "jupyterhub_proxy_route_change_seconds_count", { method: "POST" }),
        3,
      );
      assert.equal(
        value(after, "jupyterhub_proxy_route_change_seconds_bucket", {
          method: "POST",
          le: "+Inf",
        }),
        3,
      );
      assert.ok(value(after, "jupyterhub_proxy_activity_writes_total") >= 1);
      assert.ok(value(after, "jupyterhub_proxy_drift_checks_total") >= 0);
      assert.ok(
        value(after, "traefik_entrypoint_requests_total") >=
          value(before, "traefik_entrypoint_requests_total") + 5,
        "traefik's request counter moved with the traffic",
      );
      // One family per name: ours never collide with traefik's (the parser would accept a
      // repeated family, Prometheus would not).
      const text = await (await fetch(url)).text();
      const declared = text.split("\n").filter((line) => line.startsWith("# TYPE "))
        .map((line) => line.split(" ")[2]);
      assert.equal(new Set(declared).size, declared.length, "a metric family is declared twice");
      const types = new Map(after.map((sample) => [sample.family, sample.type]));
      assert.equal(types.get("jupyterhub_proxy_api_requests"), "counter");
      assert.equal(types.get("jupyterhub_proxy_route_change_seconds"), "histogram");
      assert.equal(types.get("jupyterhub_proxy_routes"), "gauge");

      const other = await fetch(`http://127.0.0.1:${metricsPort}/`);
      await other.body?.cancel();
      assert.equal(other.status, 404);
    } finally {
      await cli.stop();
      await backend.close();
    }
  },
});
