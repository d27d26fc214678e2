import assert from "node:assert/strict";
import { lineChart } from "./plot.ts";
import { parseWrk } from "./throughput.ts";
import { percentile } from "./workload.ts";
import { selected } from "./peers.ts";
import {
  hasRouter,
  routerTotal,
  takeoverWatcher,
  type TraefikAccess,
  WATCH_MS,
} from "./takeover.ts";
import { routerName } from "../lib/core/names.ts";

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

Deno.test("selected keeps names containing any comma-separated part, or all without one", () => {
  const rows: [string, string | undefined, boolean][] = [
    ["this proxy, etcd", undefined, true],
    ["this proxy, etcd", "", true],
    ["this proxy, etcd", "file,etcd", true],
    ["this proxy, file, no fallback", "no fallback", true],
    ["Python jupyterhub-traefik-proxy 2.1, redis", "file", false],
    ["this proxy, redis", "file,", false],
  ];
  for (const [name, only, want] of rows) {
    assert.equal(selected(name, only), want, `${name} ${only}`);
  }
});

/** A stand-in for traefik's API: basicAuth u:p, the overview and single routers. */
function fakeTraefik(routers: Set<string>) {
  const asked: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    asked.push(new URL(request.url).pathname);
    if (request.headers.get("authorization") !== "Basic " + btoa("u:p")) {
      return new Response("no", { status: 401 });
    }
    const path = new URL(request.url).pathname;
    if (path === "/api/overview") {
      return Response.json({ http: { routers: { total: routers.size } } });
    }
    const name = path.replace("/api/http/routers/", "");
    return routers.has(name) ? Response.json({ name }) : new Response("", { status: 404 });
  });
  const access: TraefikAccess = {
    url: `http://127.0.0.1:${server.addr.port}`,
    username: "u",
    password: "p",
    provider: "file",
  };
  return { access, asked, close: () => server.shutdown() };
}

Deno.test("takeoverWatcher resolves each route once traefik has its router", async () => {
  const routers = new Set<string>([`${routerName("/user/old/")}@file`]);
  const traefik = fakeTraefik(routers);
  const watcher = takeoverWatcher(traefik.access);
  try {
    const t0 = performance.now();
    const old = watcher.watch("/user/old/", t0);
    const late = watcher.watch("/user/late/", t0);
    const other = watcher.watch("/user/other/", t0);
    const never = watcher.watch("/user/never/", t0); // the youngest: it holds up no other
    assert.ok((await old) < 100, "already there: the first poll finds it");
    await new Promise((r) => setTimeout(r, 150));
    routers.add(`${routerName("/user/late/")}@redis`); // another provider: not taken over
    routers.add(`${routerName("/user/late/")}@file`);
    const lateMs = await late;
    assert.ok(lateMs >= 150 && lateMs < 400, `late: ${lateMs}`);
    routers.add(`${routerName("/user/other/")}@file`);
    assert.ok((await other) >= lateMs);
    await watcher.stop();
    assert.ok(Number.isNaN(await never));
    assert.equal(await hasRouter(traefik.access, "/user/late/"), true);
    assert.equal(await routerTotal(traefik.access), 4);
  } finally {
    await watcher.stop();
    await traefik.close();
  }
});

Deno.test("takeoverWatcher asks traefik once per tick, and bisects the waiting routes once one is in", async () => {
  const routers = new Set<string>();
  const traefik = fakeTraefik(routers);
  const watcher = takeoverWatcher(traefik.access);
  try {
    const t0 = performance.now();
    const specs = Array.from({ length: 100 }, (_, i) => `/user/u${i}/`);
    const all = specs.map((spec) => watcher.watch(spec, t0));
    await new Promise((r) => setTimeout(r, 8 * WATCH_MS));
    const idle = traefik.asked.length;
    assert.ok(idle >= 4 && idle <= 10, `one request a tick while none is in: ${idle}`);
    assert.ok(traefik.asked.every((path) => path.includes(routerName(specs[0]))));
    // traefik loads the first 37 at once.
    for (const spec of specs.slice(0, 37)) routers.add(`${routerName(spec)}@file`);
    const first = await Promise.all(all.slice(0, 37));
    assert.ok(first.every((ms) => ms >= 8 * WATCH_MS));
    const bisection = traefik.asked.length - idle;
    assert.ok(bisection <= 10, `the oldest, then about log2(100) requests: ${bisection}`);
    for (const spec of specs.slice(37)) routers.add(`${routerName(spec)}@file`);
    const rest = await Promise.all(all.slice(37));
    assert.ok(rest.every((ms) => ms >= Math.max(...first)));
  } finally {
    await watcher.stop();
    await traefik.close();
  }
});
