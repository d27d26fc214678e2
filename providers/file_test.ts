import assert from "node:assert/strict";
import { fileStore } from "./file.ts";
import { parseConfig } from "../lib/core/config_format.ts";
import { routesFromConfig } from "../lib/core/route_config.ts";
import { routespecOfRouter } from "../lib/core/names.ts";
import type { Route } from "../lib/core/types.ts";
import { waitFor } from "../tests/helpers.ts";

const route = (i: number, target = "http://127.0.0.1:9000"): Route => ({
  routespec: `/user/u${i}/`,
  target,
  data: { user: `u${i}`, n: i },
});

/** The routes the table file itself holds (what the Python proxy or a reader sees). */
async function inFile(path: string): Promise<string[]> {
  const config = parseConfig(await Deno.readTextFile(path), "toml");
  return [...routesFromConfig(config).routes.keys()].sort();
}

/** A copy of the directory as a crash would leave it (the store is not closed). */
async function crashCopy(dir: string): Promise<string> {
  const copy = await Deno.makeTempDir();
  for await (const entry of Deno.readDir(dir)) {
    await Deno.copyFile(`${dir}/${entry.name}`, `${copy}/${entry.name}`);
  }
  return copy;
}

Deno.test("file store with a journal: an acknowledged change survives a crash before the rewrite", async () => {
  const dir = await Deno.makeTempDir();
  const copies: string[] = [];
  try {
    const store = await fileStore({
      path: `${dir}/rules.toml`,
      journal: true,
      compactIntervalMs: 60_000,
    });
    await store.apply({ set: [route(1), route(2), route(3)] });
    await store.apply({ delete: ["/user/u2/"] });
    await store.apply({ set: [route(3, "http://127.0.0.1:9001")] });
    assert.deepEqual(await inFile(`${dir}/rules.toml`), [], "not rewritten yet");
    assert.equal(store.writes, 1);
    const crashed = await crashCopy(dir);
    copies.push(crashed);
    await store.close();

    const skipped: string[] = [];
    const reopened = await fileStore({
      path: `${crashed}/rules.toml`,
      onSkipped: (message) => skipped.push(message),
    });
    const routes = await reopened.getAllRoutes();
    assert.deepEqual([...routes.keys()].sort(), ["/user/u1/", "/user/u3/"]);
    assert.equal(routes.get("/user/u3/")?.target, "http://127.0.0.1:9001");
    assert.deepEqual(routes.get("/user/u1/")?.data, { user: "u1", n: 1 });
    assert.deepEqual(skipped, []);
    // Without a journal of its own, the store folded the one it found into the file.
    assert.deepEqual(await inFile(`${crashed}/rules.toml`), ["/user/u1/", "/user/u3/"]);
    await assert.rejects(Deno.stat(`${crashed}/rules.toml.journal`), Deno.errors.NotFound);
    await reopened.close();
  } finally {
    for (const path of [dir, ...copies]) await Deno.remove(path, { recursive: true });
  }
});

Deno.test("file store with a journal: the file is rewritten after the interval, and at close", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.toml`;
  try {
    const store = await fileStore({ path, journal: true, compactIntervalMs: 100 });
    await store.apply({ set: [route(1)] });
    // Rewritten beside the appends, then the journal cut to what came after its snapshot.
    const journalSize = async () => (await Deno.stat(`${path}.journal`)).size;
    await waitFor(
      async () => (await inFile(path)).length > 0 && await journalSize() === 0,
      "the rewrite and the cut",
      5_000,
    );
    assert.deepEqual(await inFile(path), ["/user/u1/"]);
    assert.equal(await journalSize(), 0, "emptied after the rewrite");
    await store.apply({ set: [route(2)] });
    await store.close();
    assert.deepEqual(await inFile(path), ["/user/u1/", "/user/u2/"]);
    await assert.rejects(Deno.stat(`${path}.journal`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file store with a journal: the file is rewritten less often as the table grows (a millisecond a route)", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.toml`;
  try {
    const store = await fileStore({ path, journal: true });
    await store.apply({ set: Array.from({ length: 2_000 }, (_, i) => route(1_000 + i)) });
    const holds = async (spec: string) => (await inFile(path)).includes(spec);
    await waitFor(() => holds("/user/u2999/"), "the table rewritten", 5_000);
    const since = Date.now();
    await store.apply({ set: [route(1)] });
    // 2,000 routes: two seconds between rewrites (one second below 1,000 routes).
    await assert.rejects(waitFor(() => holds("/user/u1/"), "u1", 1_200), /timed out/);
    await waitFor(() => holds("/user/u1/"), "rewritten later", 5_000);
    assert.ok(Date.now() - since >= 1_500, `rewritten after ${Date.now() - since} ms`);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file store with a journal: a crash while the file is rewritten beside the appends loses nothing", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.toml`;
  const copies: { dir: string; table: string[] }[] = [];
  try {
    // A rewrite is due at every commit: rewrites (of 2,000 routes more, some ms each) and
    // journal cuts overlap the changes.
    const store = await fileStore({ path, journal: true, compactIntervalMs: 0 });
    const table = new Map<string, string>();
    const more = Array.from({ length: 2_000 }, (_, i) => route(1_000 + i));
    await store.apply({ set: more });
    for (const { routespec, target } of more) table.set(routespec, target);
    for (let i = 0; i < 120; i++) {
      if (i % 3 === 2) {
        const gone = `/user/u${i - 1}/`;
        await store.apply({ delete: [gone] });
        table.delete(gone);
      } else {
        const target = `http://127.0.0.1:${9000 + i}`;
        await store.apply({ set: [route(i % 40, target)] });
        table.set(`/user/u${i % 40}/`, target);
      }
      if (i % 10 === 9) {
        // What a crash now would leave: the journal first, then the file (a rewrite renamed
        // after the journal was read leaves a newer file, which the journal only repeats).
        const copy = await Deno.makeTempDir();
        copies.push({
          dir: copy,
          table: [...table].map(([spec, target]) => `${spec} ${target}`).sort(),
        });
        await Deno.copyFile(`${path}.journal`, `${copy}/rules.toml.journal`);
        await Deno.copyFile(path, `${copy}/rules.toml`);
      }
    }
    assert.ok(store.writes > 5, `rewritten ${store.writes} times`);
    await store.close();
    for (const { dir: copy, table: expected } of copies) {
      const reopened = await fileStore({ path: `${copy}/rules.toml` });
      const routes = [...(await reopened.getAllRoutes()).values()];
      assert.deepEqual(routes.map((r) => `${r.routespec} ${r.target}`).sort(), expected);
      await reopened.close();
    }
  } finally {
    for (const path of [dir, ...copies.map((c) => c.dir)]) {
      await Deno.remove(path, { recursive: true });
    }
  }
});

Deno.test("file store with a journal: a rewrite or a cut of the journal that fails loses nothing, and the next one catches up", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.toml`;
  const copy = await Deno.makeTempDir();
  try {
    // A directory (not empty: the clean-up of a failed write cannot remove it) where the
    // temporary files go makes the rewrite (then the cut) fail.
    const fileTmp = `${path}.${Deno.pid}.tmp`;
    const journalTmp = `${path}.journal.${Deno.pid}.tmp`;
    const block = async (at: string) => {
      await Deno.mkdir(at);
      await Deno.writeTextFile(`${at}/x`, "");
    };
    const unblock = (at: string) => Deno.remove(at, { recursive: true });
    const skipped: string[] = [];
    const open = () =>
      fileStore({
        path,
        journal: true,
        compactIntervalMs: 20,
        onSkipped: (message) => skipped.push(message),
      });
    await block(fileTmp);
    const store = await open().catch((error) => error as Error);
    // The first write of the file at open is not in the background: it fails as it always did.
    assert.ok(store instanceof Error && /cannot write/.test(store.message));
    await unblock(fileTmp);
    const opened = await open();
    await block(fileTmp);
    await opened.apply({ set: [route(1)] });
    await opened.apply({ set: [route(2)] });
    await waitFor(
      () => skipped.some((m) => /cannot rewrite the table/.test(m)),
      "a log line",
      5_000,
    );
    await opened.apply({ set: [route(3)] }); // still acknowledged, in the journal
    await Deno.copyFile(`${path}.journal`, `${copy}/rules.toml.journal`);
    await Deno.copyFile(path, `${copy}/rules.toml`);
    const crashed = await fileStore({ path: `${copy}/rules.toml` });
    assert.deepEqual([...(await crashed.getAllRoutes()).keys()].sort(), [
      "/user/u1/",
      "/user/u2/",
      "/user/u3/",
    ]);
    await crashed.close();
    // The rewrite works again, the cut of the journal does not: the journal stays whole.
    await block(journalTmp);
    await unblock(fileTmp);
    await waitFor(async () => (await inFile(path)).length === 3, "the rewrite", 5_000);
    await opened.apply({ set: [route(4)] });
    await waitFor(() => skipped.some((m) => /cannot shorten/.test(m)), "a log line", 5_000);
    assert.ok((await Deno.stat(`${path}.journal`)).size > 0);
    // Both work again: the file holds everything, the journal is emptied.
    await unblock(journalTmp);
    await opened.apply({ set: [route(5)] });
    await waitFor(
      async () =>
        (await inFile(path)).length === 5 && (await Deno.stat(`${path}.journal`)).size === 0,
      "the rewrite and the cut",
      5_000,
    );
    await opened.close();
    assert.deepEqual((await inFile(path)).sort(), [1, 2, 3, 4, 5].map((i) => `/user/u${i}/`));
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("file store with a journal: its rewrites pass no empty change to a mirror", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await fileStore({
      path: `${dir}/rules.toml`,
      journal: true,
      compactIntervalMs: 10,
    });
    const seen: string[] = [];
    const mirror = await store.mirror({
      apply(change) {
        seen.push(`${change.set?.length ?? 0}+${change.delete?.length ?? 0}-`);
        return Promise.resolve();
      },
    });
    await store.apply({ set: [route(1)] });
    // Rewritten and the journal cut meanwhile (an empty commit each).
    await waitFor(
      async () => (await Deno.stat(`${dir}/rules.toml.journal`)).size === 0,
      "the cut",
      5_000,
    );
    await store.apply({ delete: ["/user/u1/"] });
    await mirror.close();
    await store.close();
    // The table when the mirror came (empty), then the two changes, and nothing else.
    assert.deepEqual(seen, ["0+0-", "1+0-", "0+1-"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file store: an entry cut short by a crash is skipped, the ones before it are applied", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.toml`;
  try {
    await (await fileStore({ path })).close();
    const whole = JSON.stringify({ set: [route(1)] });
    await Deno.writeTextFile(`${path}.journal`, `${whole}\n{"delete":["/user/u1/"`);
    const skipped: string[] = [];
    const store = await fileStore({ path, onSkipped: (message) => skipped.push(message) });
    assert.deepEqual([...(await store.getAllRoutes()).keys()], ["/user/u1/"]);
    assert.equal(skipped.length, 1);
    assert.match(skipped[0], /rules\.toml\.journal: skipped an unfinished last entry/);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file store with a journal: changes reach a mirror as they are acknowledged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await fileStore({
      path: `${dir}/rules.toml`,
      journal: true,
      compactIntervalMs: 60_000,
    });
    const seen: string[] = [];
    const mirror = await store.mirror({
      apply(change) {
        for (const r of change.set ?? []) seen.push(`+${r.routespec}`);
        for (const spec of change.delete ?? []) seen.push(`-${spec}`);
        return Promise.resolve();
      },
    });
    await store.apply({ set: [route(1)] });
    await store.apply({ delete: ["/user/u1/"] });
    await mirror.close();
    await store.close();
    assert.deepEqual(seen, ["+/user/u1/", "-/user/u1/"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file store with short rules: a route's rule keeps its bare path only while another route encloses it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await fileStore({ path: `${dir}/fed.toml`, records: false, shortRules: true });
    const rules = async (file = "fed.toml") => {
      const config = parseConfig(await Deno.readTextFile(`${dir}/${file}`), "toml") as {
        http: { routers: Record<string, { rule: string }> };
      };
      return Object.fromEntries(
        Object.entries(config.http.routers).flatMap(([name, router]) => {
          const routespec = routespecOfRouter(name);
          return routespec ? [[routespec, router.rule]] : [];
        }),
      );
    };
    const at = (routespec: string) => ({ routespec, target: "http://127.0.0.1:9000", data: {} });
    await store.apply({ set: [at("/"), at("/user/a/server2/")] });
    assert.deepEqual(await rules(), {
      "/": 'PathPrefix("/")',
      "/user/a/server2/": 'PathPrefix("/user/a/server2/")',
    });
    await store.apply({ set: [at("/user/a/")] });
    assert.deepEqual(await rules(), {
      "/": 'PathPrefix("/")',
      "/user/a/": 'PathPrefix("/user/a/")',
      "/user/a/server2/": 'Path("/user/a/server2") || PathPrefix("/user/a/server2/")',
    });
    await store.apply({ delete: ["/user/a/"] });
    assert.equal((await rules())["/user/a/server2/"], 'PathPrefix("/user/a/server2/")');
    await store.close();
    // Without the option: whole rules, whatever the table.
    const plain = await fileStore({ path: `${dir}/plain.toml`, records: false });
    await plain.apply({ set: [at("/user/b/")] });
    assert.deepEqual(await rules("plain.toml"), {
      "/user/b/": 'Path("/user/b") || PathPrefix("/user/b/")',
    });
    await plain.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileStore with a tree: routes under the base on their branch's entry point, from minRoutes", async () => {
  const dir = await Deno.makeTempDir();
  const tree = {
    entryPoints: ["t0", "t1"],
    urls: ["http://127.0.0.1:40000", "http://127.0.0.1:40001"],
    minRoutes: 4,
    fallback: "jupyterhub-fallback",
  };
  const store = await fileStore({
    path: `${dir}/fed.yaml`,
    records: false,
    shortRules: true,
    tree,
  });
  type Http = {
    routers: Record<string, { entryPoints: string[]; rule: string }>;
    services: Record<string, { loadBalancer: { servers: { url: string }[] } }>;
  };
  const read = async () =>
    (parseConfig(await Deno.readTextFile(store.path), "yaml") as { http: Http }).http;
  const at = (http: Http, name: string) => http.routers[`router__2Fuser_2F${name}_2F`]?.entryPoints;
  const add = (...names: string[]) =>
    store.apply({
      set: names.map((name) => ({
        routespec: `/user/${name}/`,
        target: "http://127.0.0.1:9000",
        data: {},
      })),
    });
  try {
    await add("alice", "Zed", "bob", "alice/lab", "carl"); // 3 under /user/ with a-z: no tree
    let http = await read();
    assert.deepEqual(at(http, "alice"), ["http"]);
    assert.equal(http.routers["jupyterhub-tree-0"], undefined);
    await add("dan");
    http = await read();
    assert.deepEqual(at(http, "alice"), ["t0"]); // a: 0 % 2
    assert.deepEqual(at(http, "alice_2Flab"), ["t0"]); // a named server goes with its user
    assert.deepEqual(at(http, "bob"), ["t1"]); // b: 1 % 2
    assert.deepEqual(at(http, "Zed"), ["http"]);
    assert.match(http.routers["jupyterhub-tree-1"].rule, /^PathPrefix\("\/user\/b"\) \|\| /);
    assert.equal(http.services["jupyterhub-tree-1"].loadBalancer.servers[0].url, tree.urls[1]);
    assert.deepEqual(http.routers["jupyterhub-tree-1-fallback"].entryPoints, ["t1"]);
    // Kept down to three quarters of minRoutes, then every router is on the public one again.
    await store.apply({ delete: ["/user/dan/"] });
    assert.deepEqual(at(await read(), "alice"), ["t0"], "kept at 3 of 4");
    await store.apply({ delete: ["/user/carl/"] });
    http = await read();
    assert.deepEqual(at(http, "alice"), ["http"]);
    assert.equal(http.routers["jupyterhub-tree-0"], undefined);
    assert.equal(http.routers["jupyterhub-tree-0-fallback"], undefined);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
