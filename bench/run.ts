/**
 * `deno task bench`: the same workload, in one run on one machine, against
 * - this proxy through its CHP-compatible API, with the file, redis and etcd providers;
 * - the Python jupyterhub-traefik-proxy 2.1 (file and redis) through its own Python API
 *   (bench/python_peer.py puts CHP's REST API in front of it), on the same traefik binary;
 * - configurable-http-proxy 5.3 (in memory, JupyterHub's default).
 *
 * Measured: add-to-routable latency at N existing routes (p50/p99), time until N routes are
 * routable, `GET /api/routes` at N, deleting all, the manager's resident memory at N,
 * data-plane throughput with 50 connections (wrk), and traefik's own reload floor.
 * Writes bench/results/latest.md, latest.json and add_latency.svg.
 *
 *   deno task bench                       N = 100, 1000; C = 10
 *   deno task bench --full                N = 100, 1000, 10000; C = 1, 10, 50
 *   deno task bench --only=etcd --cap=60  peers whose name contains "etcd"; 60 s per fill
 *
 * @module
 */

import { type Peer, PEERS } from "./peers.ts";
import { lineChart, type Series } from "./plot.ts";
import { measureThroughput, type Throughput } from "./throughput.ts";
import { restartWithRoutes } from "./restart.ts";
import { ruleCost } from "./rule_cost.ts";
import { loginStorm, type StormResult } from "./login_storm.ts";
import { traefikFloor } from "./traefik_floor.ts";
import { runWorkload, type WorkloadResult } from "./workload.ts";
import { CHP } from "./peers.ts";
import { startBackend } from "../tests/helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const args = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=")).map(([k, v]) => [k, v ?? "true"]),
);
const full = args.full === "true";
const SIZES = full ? [100, 1000, 10000] : [100, 1000];
const CONCURRENCY = full ? [1, 10, 50] : [10];
const CAP_MS = Number(args.cap ?? 300) * 1000;
const peers = PEERS.filter((p) => !args.only || p.name.includes(args.only));

interface Row extends Partial<WorkloadResult> {
  proxy: string;
  n: number;
  c: number;
  error?: string;
}

function log(message: string) {
  console.error(`[bench] ${message}`);
}

async function version(cmd: string, argv: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args: argv }).output();
    return new TextDecoder().decode(out.stdout).trim().split("\n")[0];
  } catch {
    return "?";
  }
}

const RESTART_N = 10_000;
const STORM = { existing: 5_000, added: 1_000, c: 10 };
const storm: StormResult[] = [];
const backend = startBackend("bench");
const restart: Awaited<ReturnType<typeof restartWithRoutes>> = [];
const rows: Row[] = [];
const throughput: { name: string; result?: Throughput; error?: string }[] = [];
try {
  for (const peer of peers) {
    for (const n of SIZES) {
      for (const c of CONCURRENCY) {
        log(`${peer.name}: N=${n} C=${c}`);
        let running;
        try {
          running = await peer.start();
          const result = await runWorkload(running, { n, c, target: backend.url, capMs: CAP_MS });
          rows.push({ proxy: peer.name, ...result });
          log(
            `  p50 ${result.p50.toFixed(1)} ms, filled ${result.filled} in ${
              result.fillMs.toFixed(0)
            } ms`,
          );
        } catch (error) {
          rows.push({ proxy: peer.name, n, c, error: (error as Error).message });
          log(`  failed: ${(error as Error).message}`);
        } finally {
          await running?.stop();
        }
      }
    }
  }

  // Data plane: once directly, once per kind of proxy (every traefik peer shares the binary).
  const planes: [string, Peer | undefined][] = [["direct to the backend", undefined]];
  for (const plane of ["configurable-http-proxy", "traefik"] as const) {
    const peer = peers.find((p) => p.dataPlane === plane);
    if (peer) planes.push([`${plane} (via ${peer.name})`, peer]);
  }
  for (const [name, peer] of planes) {
    log(`throughput: ${name}`);
    let running;
    try {
      let url = `${backend.url}/user/tp/`;
      if (peer) {
        running = await peer.start();
        const response = await fetch(`${running.apiUrl}/api/routes/user/tp`, {
          method: "POST",
          headers: { authorization: "token secret" },
          body: JSON.stringify({ target: backend.url, jupyterhub: true }),
        });
        await response.body?.cancel();
        url = `${running.publicUrl}/user/tp/`;
        await new Promise((r) => setTimeout(r, 500));
      }
      throughput.push({ name, result: await measureThroughput(url) });
    } catch (error) {
      throughput.push({ name, error: (error as Error).message });
    } finally {
      await running?.stop();
    }
  }
  log(`a process starting on a store with ${RESTART_N} routes`);
  restart.push(...await restartWithRoutes(RESTART_N, backend.url));
  log(`login storm: ${STORM.added} routes at C = ${STORM.c} onto ${STORM.existing}`);
  storm.push(...await loginStorm({ ...STORM, target: backend.url }));
} finally {
  await backend.close();
}

const RULES_N = SIZES[SIZES.length - 1];
log(`data plane at ${RULES_N} routes with PathRegexp rules`);
const rules = await ruleCost(RULES_N, [0, 0.1, 1]);

log("traefik's own reload floor");
const floor = [
  ...await traefikFloor(SIZES, { provider: "file" }),
  ...await traefikFloor(SIZES, { provider: "redis" }),
];

const fmt = (v: number | undefined, digits = 1) =>
  v === undefined || Number.isNaN(v) ? "–" : v.toFixed(digits);
const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
const versions = [
  `deno ${Deno.version.deno}`,
  `traefik ${
    (await version(`${ROOT}.tools/bin/traefik`, ["version"])).replace(/^Version:\s*/, "")
  }`,
  `configurable-http-proxy ${await version(CHP, ["--version"])}`,
  `jupyterhub-traefik-proxy ${await version(`${ROOT}.tools/venv/bin/python`, [
    "-c",
    "from importlib.metadata import version; print(version('jupyterhub-traefik-proxy'))",
  ])}`,
  (await version(`${ROOT}.tools/bin/redis-server`, ["--version"])).replace(/ sha=.*/, ""),
  await version(`${ROOT}.tools/bin/etcd`, ["--version"]),
];
const lines = [
  "# Benchmark results",
  "",
  `- date: ${new Date().toISOString()}`,
  `- machine: ${cpu}, ${navigator.hardwareConcurrency} cores, ${Deno.build.os} ${Deno.build.arch}`,
  `- versions: ${versions.join("; ")}`,
  "- add p50/p99: 50 routes added at N existing routes with concurrency C, each timed from the",
  "  start of its POST until a request through the public port reaches the backend",
  `- fill: adding the N routes from empty (stopped after ${CAP_MS / 1000} s: then 'k/N'); the`,
  "  same cap stops deleting them; add p50/p99 are measured only when all N were added",
  "- RSS: the manager process (this proxy: Deno; Python: its process; traefik not counted)",
  "",
  "| proxy | N | C | add p50 ms | add p99 ms | p50 / CHP | p50 / traefik floor | fill ms | GET all ms | delete all ms | RSS MB |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
];
for (const row of rows) {
  if (row.error) {
    lines.push(
      `| ${row.proxy} | ${row.n} | ${row.c} | failed: ${row.error.slice(0, 80)} |||||||| |`,
    );
    continue;
  }
  const chp = rows.find((r) =>
    r.proxy.startsWith("configurable") && r.n === row.n && r.c === row.c && !r.error
  );
  const ratio = chp?.p50 && row.p50 ? `${(row.p50 / chp.p50).toFixed(1)}x` : "–";
  // Every traefik-based proxy's floor is traefik's reload from a file (ours feeds its traefik
  // from one whatever the store), except the Python proxy on redis, whose traefik reads redis.
  const floorProvider = row.proxy.startsWith("Python") && row.proxy.endsWith("redis")
    ? "redis"
    : "file";
  const own = floor.find((f) => f.provider === floorProvider && f.n === row.n);
  const overFloor = !row.proxy.startsWith("configurable") && own && row.p50
    ? `${(row.p50 / own.median).toFixed(2)}x ${floorProvider}`
    : "–";
  const fill = row.filled === row.n
    ? fmt(row.fillMs, 0)
    : `${row.filled}/${row.n} in ${fmt(row.fillMs, 0)}`;
  const deletion = row.deleted === undefined || row.deleted === row.toDelete
    ? fmt(row.deleteMs, 0)
    : `${row.deleted}/${row.toDelete} in ${fmt(row.deleteMs, 0)}`;
  lines.push(
    `| ${row.proxy} | ${row.n} | ${row.c} | ${fmt(row.p50)} | ${fmt(row.p99)} | ${ratio} | ` +
      `${overFloor} | ` +
      `${fill} | ${fmt(row.getAllMs)} | ${deletion} | ${fmt(row.rssMb)} |`,
  );
}
lines.push(
  "",
  "Data plane: wrk, 2 threads, 50 connections, 5 s, to the same backend (a Deno HTTP server).",
  "",
  "| path | requests/s | p50 ms | p99 ms |",
  "| --- | --- | --- | --- |",
  ...throughput.map((t) =>
    t.result
      ? `| ${t.name} | ${fmt(t.result.rps, 0)} | ${fmt(t.result.p50, 2)} | ${
        fmt(t.result.p99, 2)
      } |`
      : `| ${t.name} | failed: ${t.error} | | |`
  ),
  "",
  `A process of this proxy starting on a store that already holds ${RESTART_N} routes (written`,
  "through the library), as after a restart or in a second replica (bench/restart.ts):",
  "",
  "first GET: the first listing after start (redis and etcd fill their watched copy then, or",
  "before); GET: the median of the next five; RSS after them, and its peak since start.",
  "",
  "| provider | last route routable after ms | first GET ms | GET /api/routes ms | RSS MB | peak RSS MB |",
  "| --- | --- | --- | --- | --- | --- |",
  ...restart.map((r) =>
    `| ${r.provider} | ${fmt(r.routableMs, 0)} | ${fmt(r.firstGetMs)} | ${fmt(r.getAllMs)} | ${
      fmt(r.rssMb, 0)
    } | ${fmt(r.peakMb, 0)} |`
  ),
  "",
  `Login storm (bench/login_storm.ts): ${STORM.added} users log in, added through the API at`,
  `C = ${STORM.c} (JupyterHub's default), onto a store that holds ${STORM.existing} routes.`,
  "",
  "| provider | all routable after s | add p50 ms | add p99 ms |",
  "| --- | --- | --- | --- |",
  ...storm.map((s) =>
    `| ${s.provider} | ${fmt(s.totalMs / 1000)} | ${fmt(s.p50, 0)} | ${fmt(s.p99, 0)} |`
  ),
  "",
  `The data plane at ${RULES_N} routes (bench/rule_cost.ts): a share of the routes hold a '+' and`,
  "get a PathRegexp accepting '+' and '%2B'; wrk as above, each request to a random user route, or",
  "to a path only the catch-all '/' matches (traefik tries every router before it).",
  "",
  "| PathRegexp share | random user route req/s | p99 ms | catch-all req/s | p99 ms |",
  "| --- | --- | --- | --- | --- |",
  ...rules.map((r) =>
    `| ${r.share} | ${fmt(r.user.rps, 0)} | ${fmt(r.user.p99)} | ${fmt(r.fallthrough.rps, 0)} | ${
      fmt(r.fallthrough.p99)
    } |`
  ),
  "",
  "traefik's own floor (bench/traefik_floor.ts): with N routes loaded, one route more is written",
  "directly (file: the whole file replaced; redis: its keys in one MULTI), no proxy of ours",
  "involved, and the public port is polled every millisecond until it routes; median of 7.",
  "",
  "| provider | N | new route routable, median ms | max ms |",
  "| --- | --- | --- | --- |",
  ...floor.map((f) => `| ${f.provider} | ${f.n} | ${fmt(f.median)} | ${fmt(f.max)} |`),
);
const series: Series[] = [...new Set(rows.map((r) => r.proxy))].map((name) => ({
  name,
  points: rows
    .filter((r) => r.proxy === name && r.c === 10 && r.p50 !== undefined && !Number.isNaN(r.p50))
    .map((r) => [r.n, r.p50!] as [number, number]),
}));
for (const provider of ["file", "redis"]) {
  series.push({
    name: `traefik alone, ${provider} (floor)`,
    dashed: true,
    points: floor.filter((f) => f.provider === provider).map((f) => [f.n, f.median]),
  });
}
const outDir = `${ROOT}bench/results`;
await Deno.mkdir(outDir, { recursive: true });
await Deno.writeTextFile(`${outDir}/latest.md`, lines.join("\n") + "\n");
await Deno.writeTextFile(
  `${outDir}/latest.json`,
  JSON.stringify(
    { date: new Date().toISOString(), versions, rows, throughput, restart, storm, rules, floor },
    null,
    2,
  ),
);
await Deno.writeTextFile(
  `${outDir}/add_latency.svg`,
  lineChart(series, {
    title: "Add route → routable, p50 at N existing routes (C = 10)",
    xLabel: "existing routes N",
    yLabel: "ms",
  }),
);
console.log(lines.join("\n"));
