/**
 * `deno task bench`: the same workload, in one run on one machine, against
 * - this proxy through its CHP-compatible API, with the file, redis and etcd providers, with
 *   its fallback (the default), and on file also without (`--no-fallback`: traefik only);
 * - the Python jupyterhub-traefik-proxy 2.1 (file and redis) through its own Python API
 *   (bench/python_peer.py puts CHP's REST API in front of it), on the same traefik binary;
 * - configurable-http-proxy 5.3 (in memory, JupyterHub's default).
 *
 * Measured: add-to-routable latency at N existing routes (p50/p99) and, with the fallback, the
 * time until traefik has taken the route over; time until N routes are routable,
 * `GET /api/routes` at N, deleting all, the manager's resident memory at N, data-plane
 * throughput with 50 connections (wrk; also through the fallback), a restart on 10,000 routes,
 * a login storm, and traefik's own reload floor.
 * Writes bench/results/latest.md, latest.json and add_latency.svg (or `--out=NAME`: NAME.md,
 * NAME.json, NAME_add_latency.svg).
 *
 *   deno task bench                       N = 100, 1000; C = 10
 *   deno task bench --full                N = 100, 1000, 10000; C = 1, 10, 50
 *   deno task bench --only=etcd --cap=60  peers whose name contains "etcd"; 60 s per fill
 *   deno task bench --quick               CHP and ours only (no Python), no rule cost or floor
 *
 * More options: `--only=a,b` (any of the substrings; also picks the peers of the restart and
 * the storm; configurable-http-proxy, the baseline, always runs), `--skip=a,b` (none of them),
 * `--prefill` (start each peer on its N routes instead of adding them: no fill time; the Python
 * proxy still adds them), `--sizes=100,1000`, `--c=1,10`, `--sections=workload,throughput,restart,storm,
 * rules,tree,floor,socket,activity` (default all), `--restart-n=10000`, `--out=fallback`, `--sample=200`
 * (routes added per workload cell; default 50).
 *
 * @module
 */

import { CHP_PEER, OURS, type Peer, PEERS, selected } from "./peers.ts";
import { lineChart, type Series } from "./plot.ts";
import { measureThroughput, type Throughput } from "./throughput.ts";
import { restartWithRoutes } from "./restart.ts";
import { RULE_SHAPES, ruleCost } from "./rule_cost.ts";
import { entryTree, type EntryTreeResult } from "./entry_tree.ts";
import { loginStorm, STORM_PEERS, type StormResult } from "./login_storm.ts";
import { traefikFloor } from "./traefik_floor.ts";
import { type SocketOverhead, socketOverhead } from "./socket.ts";
import { type ActivityCost, activityCost } from "./activity.ts";
import { fillRoutes, runWorkload, type WorkloadResult } from "./workload.ts";
import { CHP, type Running } from "./peers.ts";
import { hasRouter, pollUntil } from "./takeover.ts";
import { startBackend } from "../tests/helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const args = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=")).map(([k, v]) => [k, v ?? "true"]),
);
const full = args.full === "true";
const quick = args.quick === "true";
const numbers = (value: string | undefined, fallback: number[]) =>
  value ? value.split(",").map(Number) : fallback;
const SIZES = numbers(args.sizes, full ? [100, 1000, 10000] : [100, 1000]);
const CONCURRENCY = numbers(args.c, full ? [1, 10, 50] : [10]);
const CAP_MS = Number(args.cap ?? 300) * 1000;
// Routes added per workload cell (`--sample=N`): 50 by default; more for a steadier p50.
const SAMPLE = Number(args.sample ?? 50);
if (!Number.isInteger(SAMPLE) || SAMPLE < 2) throw new Error(`--sample must be an integer >= 2`);
const SECTIONS = new Set(
  (args.sections ?? (quick ? "workload,throughput,restart,storm" : "")).split(",").filter(
    (s) => s !== "",
  ),
);
const runs = (section: string) => SECTIONS.size === 0 || SECTIONS.has(section);
const OUT = args.out ?? "latest";
const PREFILL = args.prefill === "true";
// configurable-http-proxy, the baseline of every ratio, is always kept.
const pick = (list: Peer[]) =>
  list.filter((p) =>
    (p === CHP_PEER || selected(p.name, args.only)) &&
    !(args.skip && selected(p.name, args.skip)) && !(quick && p.name.startsWith("Python"))
  );
const peers = pick(PEERS);

interface Row extends Partial<WorkloadResult> {
  proxy: string;
  n: number;
  c: number;
  error?: string;
}

function log(message: string) {
  console.error(`[bench] ${message}`);
}

/**
 * The code under test: HEAD and a digest of every file under lib/ and providers/ and of mod.ts
 * (the working tree, uncommitted changes included), so that a run can be matched to the code.
 */
async function codeVersion(): Promise<string> {
  const files: string[] = [`${ROOT}mod.ts`];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
      else if (entry.isFile) files.push(`${dir}/${entry.name}`);
    }
  };
  await walk(`${ROOT}lib`);
  await walk(`${ROOT}providers`);
  const parts: Uint8Array[] = [];
  for (const file of files.sort()) {
    parts.push(new TextEncoder().encode(file.slice(ROOT.length) + "\0"));
    parts.push(await Deno.readFile(file));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  const hex = [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const head = await version("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]);
  const dirty = await version("git", ["-C", ROOT, "status", "--porcelain", "lib", "providers"]);
  return `HEAD ${head}${
    dirty && dirty !== "?" ? " + uncommitted changes" : ""
  }; lib/ + providers/ ${hex}`;
}

async function version(cmd: string, argv: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args: argv }).output();
    return new TextDecoder().decode(out.stdout).trim().split("\n")[0];
  } catch {
    return "?";
  }
}

const codeAtStart = await codeVersion();
const loadAverage = async () => (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3);
const loadAtStart = await loadAverage();
const RESTART_N = Number(args["restart-n"] ?? 10_000);
const STORM = { existing: 5_000, added: 1_000, c: 10 };
const storm: StormResult[] = [];
const backend = startBackend("bench");
const restart: Awaited<ReturnType<typeof restartWithRoutes>> = [];
const rows: Row[] = [];
const throughput: { name: string; result?: Throughput; error?: string }[] = [];
let socketResult: SocketOverhead | undefined;
let activityResult: ActivityCost | undefined;
let activityError = "";
let socketError = "";

/** POSTs `routespec` (`/` or `/user/x`) to `target`; with traefik, waits until it has it. */
async function routeTo(running: Running, path: string, target: string): Promise<void> {
  const response = await fetch(`${running.apiUrl}/api/routes${path}`, {
    method: "POST",
    headers: { authorization: "token secret" },
    body: JSON.stringify({ target, jupyterhub: true }),
  });
  await response.body?.cancel();
  if (response.status !== 201) throw new Error(`POST ${path}: ${response.status}`);
}

/** Fails unless a GET of `url` reaches the backend. */
async function reaches(url: string): Promise<void> {
  const response = await fetch(url);
  const text = await response.text();
  if (!text.includes('"backend":"bench"')) {
    throw new Error(`${url} does not reach the backend: ${response.status} ${text.slice(0, 80)}`);
  }
}

/** One data-plane row: a started peer (or none: direct), set up, then wrk to a URL. */
interface Plane {
  name: string;
  peer?: Peer;
  setup(running: Running | undefined): Promise<string>;
}

try {
  if (runs("workload")) {
    for (const peer of peers) {
      for (const n of SIZES) {
        for (const c of CONCURRENCY) {
          log(`${peer.name}: N=${n} C=${c}`);
          let running;
          try {
            const prefilled = PREFILL && peer.prefill;
            running = await peer.start(
              prefilled ? { routes: fillRoutes(n, backend.url) } : {},
            );
            const result = await runWorkload(running, {
              n,
              c,
              target: backend.url,
              capMs: CAP_MS,
              prefilled,
              sample: SAMPLE,
            });
            rows.push({ proxy: peer.name, ...result });
            log(
              `  p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, takeover p50 ${
                result.takeoverP50.toFixed(0)
              } ms, filled ${result.filled} in ${
                result.fillMs.toFixed(0)
              } ms, RSS ${result.rssMb} MB`,
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
  }

  if (runs("throughput")) {
    // Data plane: once directly, once per kind of proxy (every traefik peer shares the binary),
    // and once through this proxy's fallback.
    const planes: Plane[] = [{
      name: "direct to the backend",
      setup: () => Promise.resolve(`${backend.url}/user/tp/`),
    }];
    const specific = async (running: Running | undefined) => {
      await routeTo(running!, "/user/tp", backend.url);
      const traefik = running!.traefik;
      if (traefik && Number.isNaN(await pollUntil(() => hasRouter(traefik, "/user/tp/"), 0))) {
        throw new Error("traefik did not take /user/tp/ over");
      }
      await reaches(`${running!.publicUrl}/user/tp/`);
      return `${running!.publicUrl}/user/tp/`;
    };
    const chp = peers.find((p) => p.dataPlane === "configurable-http-proxy");
    if (chp) {
      planes.push({
        name: `configurable-http-proxy (via ${chp.name})`,
        peer: chp,
        setup: specific,
      });
    }
    const traefikPeer = peers.find((p) => p.dataPlane === "traefik");
    if (traefikPeer) {
      planes.push({
        name: `traefik, a specific route (via ${traefikPeer.name})`,
        peer: traefikPeer,
        setup: specific,
      });
    }
    const fallbackPeer = peers.find((p) => OURS.includes(p) && !p.name.includes("no fallback"));
    if (fallbackPeer) {
      planes.push({
        name: `this proxy's fallback, traefik -> Deno -> backend (via ${fallbackPeer.name})`,
        peer: fallbackPeer,
        async setup(running) {
          await routeTo(running!, "/", backend.url);
          await reaches(`${running!.publicUrl}/anything/`);
          return `${running!.publicUrl}/anything/`;
        },
      });
    }
    for (const plane of planes) {
      log(`throughput: ${plane.name}`);
      let running;
      try {
        running = await plane.peer?.start();
        const url = await plane.setup(running);
        throughput.push({ name: plane.name, result: await measureThroughput(url) });
      } catch (error) {
        throughput.push({ name: plane.name, error: (error as Error).message });
        log(`  failed: ${(error as Error).message}`);
      } finally {
        await running?.stop();
      }
    }
  }
  if (runs("socket")) {
    log("--socket: the relay in front of traefik");
    try {
      socketResult = await socketOverhead(backend.url);
    } catch (error) {
      socketError = (error as Error).message;
      log(`  failed: ${socketError}`);
    }
  }
  if (runs("activity")) {
    log("activity: the data plane with activity off and on");
    try {
      activityResult = await activityCost();
    } catch (error) {
      activityError = (error as Error).message;
      log(`  failed: ${activityError}`);
    }
  }
  if (runs("restart")) {
    log(`a process starting on a store with ${RESTART_N} routes`);
    restart.push(...await restartWithRoutes(RESTART_N, backend.url, pick(OURS)));
  }
  if (runs("storm")) {
    log(`login storm: ${STORM.added} routes at C = ${STORM.c} onto ${STORM.existing}`);
    storm.push(...await loginStorm({ ...STORM, target: backend.url, peers: pick(STORM_PEERS) }));
  }
} finally {
  await backend.close();
}

const RULES_N = SIZES[SIZES.length - 1];
let rules: Awaited<ReturnType<typeof ruleCost>> = [];
let tree: EntryTreeResult[] = [];
if (runs("tree")) {
  log(`data plane at ${RULES_N} routes: one entry point or a tree of them`);
  tree = await entryTree(RULES_N);
}
if (runs("rules")) {
  log(`data plane at ${RULES_N} routes by shape of the rules`);
  rules = await ruleCost(RULES_N, RULE_SHAPES);
}

const floor: Awaited<ReturnType<typeof traefikFloor>> = [];
if (runs("floor")) {
  log("traefik's own reload floor");
  floor.push(
    ...await traefikFloor(SIZES, { provider: "file" }),
    ...await traefikFloor(SIZES, { provider: "redis" }),
  );
}

const codeAtEnd = await codeVersion();
const loadAtEnd = await loadAverage();
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
  `- machine: ${cpu}, ${navigator.hardwareConcurrency} cores, ${Deno.build.os} ${Deno.build.arch}; ` +
  `load average ${loadAtStart.join(" ")} at the start, ${loadAtEnd.join(" ")} at the end`,
  `- versions: ${versions.join("; ")}`,
  `- command: deno run --allow-all bench/run.ts ${Deno.args.join(" ")}`.trimEnd(),
  `- code: ${codeAtStart}${
    codeAtEnd === codeAtStart
      ? ""
      : ` at the start, ${codeAtEnd} at the end (changed during the run)`
  }`,
];
if (runs("workload")) {
  lines.push(
    `- add p50/p99: ${SAMPLE} routes added at N existing routes with concurrency C, each timed from the`,
    "  start of its POST until a request through the public port reaches the backend (with the",
    "  fallback, this proxy's own server behind traefik's catch-all router serves it first)",
    "- takeover p50/max: with the fallback, the same routes timed from the start of their POST",
    "  until traefik's API has their router (`GET /api/http/routers/<router>@file`: one request",
    "  every 25 ms for the oldest waiting route, then a bisection of the others; for 60 s at most:",
    "  '(k missed)'); from then on traefik serves them itself",
    PREFILL
      ? "- fill: none ('–'): each peer started on its N routes (ours: in the store; CHP: through " +
        `its API), the sample once traefik had them; deleting stopped after ${CAP_MS / 1000} s`
      : `- fill: adding the N routes from empty (stopped after ${CAP_MS / 1000} s: then 'k/N'); ` +
        "the same cap stops deleting them; add p50/p99 are measured only when all N were added",
    "- RSS: the manager process (this proxy: Deno; Python: its process; traefik not counted)",
    "",
    "| proxy | N | C | add p50 ms | add p99 ms | p50 / CHP | p50 / traefik floor | takeover p50 ms | takeover max ms | fill ms | GET all ms | delete all ms | RSS MB |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
}
for (const row of rows) {
  if (row.error) {
    lines.push(
      `| ${row.proxy} | ${row.n} | ${row.c} | failed: ${row.error.slice(0, 80)} |||||||||| |`,
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
  const missed = row.takeoverMissed ? ` (${row.takeoverMissed} missed)` : "";
  lines.push(
    `| ${row.proxy} | ${row.n} | ${row.c} | ${fmt(row.p50)} | ${fmt(row.p99)} | ${ratio} | ` +
      `${overFloor} | ${fmt(row.takeoverP50, 0)} | ${fmt(row.takeoverMax, 0)}${missed} | ` +
      `${fill} | ${fmt(row.getAllMs)} | ${deletion} | ${fmt(row.rssMb)} |`,
  );
}
const chpRps = throughput.find((t) => t.name.startsWith("configurable"))?.result?.rps;
if (runs("throughput")) {
  lines.push(
    "",
    "Data plane: wrk, 2 threads, 50 connections, 5 s, to the same backend (a Deno HTTP server).",
    "A specific route: `/user/tp/`, once traefik has it. The fallback: the root route `/` to the",
    "backend and wrk to `/anything/`, which no router of traefik's but the catch-all matches, so",
    "that every request goes traefik -> this proxy's fallback server (Deno) -> backend.",
    "",
    "| path | requests/s | / CHP | p50 ms | p99 ms |",
    "| --- | --- | --- | --- | --- |",
    ...throughput.map((t) =>
      t.result
        ? `| ${t.name} | ${fmt(t.result.rps, 0)} | ${
          chpRps ? `${(t.result.rps / chpRps).toFixed(2)}x` : "–"
        } | ${fmt(t.result.p50, 2)} | ${fmt(t.result.p99, 2)} |`
        : `| ${t.name} | failed: ${t.error} | | | |`
    ),
  );
}
if (runs("socket")) {
  const row = (name: string, r: { rps: number; p50: number; p99: number }) =>
    `| ${name} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`;
  lines.push(
    "",
    "`--socket`: 50 concurrent keep-alive GET loops for 5 s (a Deno load generator: wrk cannot",
    "dial a unix socket) to one route through traefik, once on a TCP port, once on the public unix",
    "socket that this process relays to traefik's loopback entry point.",
    "",
    "| public side | requests/s | p50 ms | p99 ms |",
    "| --- | --- | --- | --- |",
    ...(socketResult
      ? [
        row("TCP port (traefik)", socketResult.tcp),
        row("unix socket (relay -> traefik)", socketResult.socket),
        `| socket / TCP | ${(socketResult.socket.rps / socketResult.tcp.rps).toFixed(2)}x | | |`,
      ]
      : [`| failed: ${socketError} | | | |`]),
  );
}
if (runs("activity")) {
  const row = (name: string, r: { rps: number; p50: number; p99: number }, base: number) =>
    `| ${name} | ${fmt(r.rps, 0)} | ${(r.rps / base).toFixed(2)}x | ${fmt(r.p50, 2)} | ${
      fmt(r.p99, 2)
    } |`;
  lines.push(
    "",
    "Activity (`last_activity` from traffic): wrk, 2 threads, 50 connections, 5 s, to one route",
    "through traefik; then 20 websockets each sending 256 bytes and awaiting the echo, 5 s. Each",
    "configuration runs 3 times, alternating; the median is shown, and the ratio to the first row.",
    "",
    "| configuration | requests/s | ratio | p50 ms | p99 ms |",
    "| --- | --- | --- | --- | --- |",
    ...(activityResult
      ? [
        ...activityResult.http.map((r) =>
          row(r.name, r.result, activityResult!.http[0].result.rps)
        ),
        "| **websockets** (round trips/s) | | | | |",
        ...activityResult.websocket.map((r) =>
          row(r.name, r.result, activityResult!.websocket[0].result.rps)
        ),
      ]
      : [`| failed: ${activityError} | | | | |`]),
  );
}
if (runs("restart")) {
  lines.push(
    "",
    `A process of this proxy starting on a store that already holds ${RESTART_N} routes (written`,
    "through the library), as after a restart or in a second replica (bench/restart.ts):",
    "",
    "routable: from spawning the process until a request for the last route reaches the backend;",
    "traefik has it: until traefik's API has that route's router (with the fallback, traefik may",
    "start on a small configuration and load the routes after); first GET: the first listing",
    "after start (redis and etcd fill their watched copy then, or before); GET: the median of the",
    "next five; RSS after them, and its peak since start.",
    "",
    "| proxy | last route routable after ms | traefik has it after ms | first GET ms | GET /api/routes ms | RSS MB | peak RSS MB |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...restart.map((r) =>
      r.error
        ? `| ${r.proxy} | failed: ${r.error.slice(0, 120)} | | | | | |`
        : `| ${r.proxy} | ${fmt(r.routableMs, 0)} | ${fmt(r.takeoverMs, 0)} | ${
          fmt(r.firstGetMs)
        } | ${fmt(r.getAllMs)} | ${fmt(r.rssMb, 0)} | ${fmt(r.peakMb, 0)} |`
    ),
  );
}
if (runs("storm")) {
  const chpStorm = storm.find((s) => s.proxy.startsWith("configurable"));
  lines.push(
    "",
    `Login storm (bench/login_storm.ts): ${STORM.added} users log in, added through the API at`,
    `C = ${STORM.c} (JupyterHub's default), onto a proxy that serves ${STORM.existing} routes`,
    "(ours: in the store at start, and the storm waits until traefik has them;",
    "configurable-http-proxy: added through its API first). all routable: from the first POST",
    "until the last added route reaches the backend; / CHP: that time over CHP's; traefik has",
    "all: with the fallback, from the first POST until traefik's router count has grown by",
    `${STORM.added} (every added route taken over); RSS: the manager after the storm. CPU s,`,
    "until all were routable (from /proc): the manager / the processes it started (traefik) /",
    "the store server / this bench process (load generator and backend); cores: their sum over",
    "the time (the machine's cores bound it).",
    "",
    "| proxy | all routable after s | / CHP | add p50 ms | add p99 ms | traefik has all after s | RSS MB | CPU s: proxy / traefik / store / bench | cores |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...storm.map((s) => {
      if (s.error) return `| ${s.proxy} | failed: ${s.error.slice(0, 120)} | | | | | | | |`;
      const { proxy, traefik, store, bench } = s.cpu;
      const cpu = [proxy, traefik, store, bench].map((ms) => fmt(ms / 1000, 2)).join(" / ");
      const cores = (proxy + traefik + store + bench) / s.totalMs;
      return `| ${s.proxy} | ${fmt(s.totalMs / 1000, 2)} | ${
        chpStorm ? `${(s.totalMs / chpStorm.totalMs).toFixed(2)}x` : "–"
      } | ${fmt(s.p50, 0)} | ${fmt(s.p99, 0)} | ${fmt(s.takeoverMs / 1000, 2)} | ${
        fmt(s.rssMb, 0)
      } | ${cpu} | ${fmt(cores, 2)} |`;
    }),
  );
}
if (runs("rules")) {
  lines.push(
    "",
    `The data plane at ${RULES_N} routes (bench/rule_cost.ts): a share of the routes hold a '+' and`,
    "get a PathRegexp accepting '+' and '%2B'; the others the whole rule (`Path(p) || PathPrefix(p/)`)",
    "or, as in traefik's file with the fallback, the short one (`PathPrefix(p/)`); wrk as above, each",
    "request to a random user route, or to a path only the catch-all '/' matches (traefik tries every",
    "router before it).",
    "",
    "| PathRegexp share | other rules | random user route req/s | p99 ms | catch-all req/s | p99 ms |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rules.map((r) =>
      `| ${r.share} | ${r.short ? "short" : "whole"} | ${fmt(r.user.rps, 0)} | ${
        fmt(r.user.p99)
      } | ${fmt(r.fallthrough.rps, 0)} | ${fmt(r.fallthrough.p99)} |`
    ),
  );
}
if (runs("tree")) {
  lines.push(
    "",
    `One entry point or a tree of them at ${RULES_N} routes (bench/entry_tree.ts): flat, every`,
    "user router on the public entry point (as this proxy configures traefik); tree, on the public",
    "entry point one router per first letter of the user name, to a loopback entry point of",
    "traefik's own that holds that letter's routers (one hop more, a 26th of the scan). wrk as",
    "above; traefik's CPU per request from /proc.",
    "",
    "| shape | path | requests/s | p50 ms | p99 ms | traefik µs/request |",
    "| --- | --- | --- | --- | --- | --- |",
    ...tree.map((t) =>
      `| ${t.shape} | ${t.path} | ${fmt(t.result.rps, 0)} | ${fmt(t.result.p50, 2)} | ${
        fmt(t.result.p99, 2)
      } | ${fmt(t.cpuUsPerRequest, 0)} |`
    ),
  );
}
if (runs("floor")) {
  lines.push(
    "",
    "traefik's own floor (bench/traefik_floor.ts): with N routes loaded, one route more is written",
    "directly (file: the whole file replaced; redis: its keys in one MULTI), no proxy of ours",
    "involved, and the public port is polled every millisecond until it routes; median of 7.",
    "",
    "| provider | N | new route routable, median ms | max ms |",
    "| --- | --- | --- | --- |",
    ...floor.map((f) => `| ${f.provider} | ${f.n} | ${fmt(f.median)} | ${fmt(f.max)} |`),
  );
}
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
await Deno.writeTextFile(`${outDir}/${OUT}.md`, lines.join("\n") + "\n");
await Deno.writeTextFile(
  `${outDir}/${OUT}.json`,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      args: Deno.args,
      code: { start: codeAtStart, end: codeAtEnd },
      versions,
      rows,
      throughput,
      restart,
      storm,
      rules,
      tree,
      floor,
    },
    (_key, value) => typeof value === "number" && Number.isNaN(value) ? null : value,
    2,
  ),
);
if (rows.length > 0) {
  await Deno.writeTextFile(
    `${outDir}/${OUT === "latest" ? "" : `${OUT}_`}add_latency.svg`,
    lineChart(series, {
      title: "Add route → routable, p50 at N existing routes (C = 10)",
      xLabel: "existing routes N",
      yLabel: "ms",
    }),
  );
}
console.log(lines.join("\n"));
