/**
 * Benchmarks: the same workload, in one run on one machine, against this proxy (file, redis and
 * etcd providers, through its CHP-compatible API) and configurable-http-proxy 5.3 (in memory,
 * JupyterHub's default), all driven through the same REST API to the same backend.
 *
 * For each proxy, N and C: add N routes with concurrency C, timing each from the start of its
 * POST until a request through the proxy's public port reaches the backend (p50/p99), the total
 * time until all N are routable, `GET /api/routes` at N, deleting all N, and the manager
 * process's resident memory at N. Writes bench/results/latest.md.
 *
 *   deno task bench               N = 100, 1000; C = 10
 *   deno task bench --full        N = 100, 1000, 10000; C = 1, 10, 50
 *
 * @module
 */

import { startEtcd, startRedis, type StoreServer } from "../tests/stores.ts";
import { api, canConnect, type Cli, startCli } from "../tests/cli_helpers.ts";
import { freePort, startBackend } from "../tests/helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CHP = `${ROOT}.tools/npm/node_modules/.bin/configurable-http-proxy`;
const full = Deno.args.includes("--full");
const SIZES = full ? [100, 1000, 10000] : [100, 1000];
const CONCURRENCY = full ? [1, 10, 50] : [10];

interface Row {
  proxy: string;
  n: number;
  c: number;
  p50: number;
  p99: number;
  total: number;
  getAll: number;
  deleteAll: number;
  rssMb: number;
}

async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function routable(url: string, backend: string): Promise<void> {
  while (true) {
    const response = await fetch(url);
    const text = await response.text();
    if (response.status === 200 && text.includes(`"backend":"${backend}"`)) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function pool<T>(items: T[], c: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function chpProcess(): Promise<Cli & { pid: number }> {
  const port = freePort();
  const apiPort = freePort();
  const child = new Deno.Command(CHP, {
    args: [
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--api-ip",
      "127.0.0.1",
      "--api-port",
      String(apiPort),
      "--log-level",
      "error",
    ],
    env: { CONFIGPROXY_AUTH_TOKEN: "secret" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 300 && !(await canConnect(apiPort)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    port,
    apiPort,
    pid: child.pid,
    publicUrl: `http://127.0.0.1:${port}`,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    stderr: () => "",
    async stop() {
      child.kill("SIGTERM");
      return (await child.status).code;
    },
  };
}

async function measure(name: string, cli: Cli, pid: number, n: number, c: number): Promise<Row> {
  const backend = startBackend("bench");
  try {
    const names = Array.from({ length: n }, (_, i) => `b${i}`);
    const latencies: number[] = [];
    const started = performance.now();
    await pool(names, c, async (user) => {
      const t0 = performance.now();
      const response = await api(cli, "POST", `/user/${user}`, {
        target: backend.url,
        jupyterhub: true,
        user,
        server_name: "",
      });
      await response.body?.cancel();
      if (response.status !== 201) throw new Error(`${name}: POST ${user}: ${response.status}`);
      await routable(`${cli.publicUrl}/user/${user}/`, "bench");
      latencies.push(performance.now() - t0);
    });
    const total = performance.now() - started;
    const rss = await rssMb(pid);
    const g0 = performance.now();
    const all = await (await api(cli, "GET", "")).json();
    const getAll = performance.now() - g0;
    if (Object.keys(all).length < n) throw new Error(`${name}: listed ${Object.keys(all).length}`);
    const d0 = performance.now();
    await pool(names, c, async (user) => {
      const response = await api(cli, "DELETE", `/user/${user}`);
      await response.body?.cancel();
    });
    const deleteAll = performance.now() - d0;
    return {
      proxy: name,
      n,
      c,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      total,
      getAll,
      deleteAll,
      rssMb: rss,
    };
  } finally {
    await backend.close();
  }
}

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args }).output();
    return new TextDecoder().decode(out.stdout).trim().split("\n")[0];
  } catch {
    return "?";
  }
}

/** Our CLI on a fresh store server. */
async function withStore(
  startServer: () => Promise<StoreServer>,
  flags: (server: StoreServer) => string[],
  provider: string,
) {
  const server = await startServer();
  const cli = await startCli(["--provider", provider, ...flags(server)]);
  return {
    cli,
    pid: cli.child.pid,
    cleanup: async () => {
      await cli.stop();
      await server.stop();
    },
  };
}

const rows: Row[] = [];
const peers: [string, () => Promise<{ cli: Cli; pid: number; cleanup: () => Promise<void> }>][] = [
  ["configurable-http-proxy (memory)", async () => {
    const cli = await chpProcess();
    return { cli, pid: cli.pid, cleanup: async () => void await cli.stop() };
  }],
  ["this proxy, file", async () => {
    const cli = await startCli();
    return { cli, pid: cli.child.pid, cleanup: async () => void await cli.stop() };
  }],
  ["this proxy, redis", () => withStore(startRedis, (s) => ["--redis-url", s.url], "redis")],
  ["this proxy, etcd", () => withStore(startEtcd, (s) => ["--etcd-url", s.url], "etcd")],
];

for (const [name, start] of peers) {
  for (const n of SIZES) {
    for (const c of CONCURRENCY) {
      const { cli, pid, cleanup } = await start();
      try {
        const row = await measure(name, cli, pid, n, c);
        rows.push(row);
        console.error(
          `${name} N=${n} C=${c}: p50 ${row.p50.toFixed(1)} ms, total ${row.total.toFixed(0)} ms`,
        );
      } finally {
        await cleanup();
      }
    }
  }
}

const traefik = await version(`${ROOT}.tools/bin/traefik`, ["version"]);
const lines = [
  "# Benchmark results",
  "",
  `- date: ${new Date().toISOString()}`,
  `- machine: ${Deno.build.os} ${Deno.build.arch}, ${navigator.hardwareConcurrency} cores`,
  `- deno ${Deno.version.deno}; traefik ${traefik.replace(/^Version:\s*/, "")}; ` +
  `configurable-http-proxy ${await version(CHP, ["--version"])}`,
  "- add: from the start of a POST until a request through the public port reaches the backend",
  "- RSS: the manager process only (for this proxy, the Deno process; traefik runs beside it)",
  "",
  "| proxy | N | C | add p50 ms | add p99 ms | all routable ms | GET all ms | delete all ms | RSS MB | p50 / CHP |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
];
for (const row of rows) {
  const chp = rows.find((r) =>
    r.proxy.startsWith("configurable") && r.n === row.n && r.c === row.c
  );
  const ratio = chp ? (row.p50 / chp.p50).toFixed(1) + "x" : "";
  lines.push(
    `| ${row.proxy} | ${row.n} | ${row.c} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ` +
      `${row.total.toFixed(0)} | ${row.getAll.toFixed(1)} | ${row.deleteAll.toFixed(0)} | ` +
      `${row.rssMb} | ${ratio} |`,
  );
}
await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
await Deno.writeTextFile(`${ROOT}bench/results/latest.md`, lines.join("\n") + "\n");
console.log(lines.join("\n"));
