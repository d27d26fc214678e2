import assert from "node:assert/strict";
import { ConfigError } from "../lib/core/errors.ts";
import { formatOf, parseConfig } from "../lib/core/config_format.ts";
import { startEtcd, startRedis, type StoreServer } from "../tests/stores.ts";
import { openStore, type ProviderOptions } from "./mod.ts";

const FIXED = { http: { middlewares: { "hub-auth": { basicAuth: { users: ["u:h"] } } } } };
const ROUTE = { routespec: "/user/a/", target: "http://127.0.0.1:9000", data: {} };

/** The middlewares section of a written dynamic-configuration file, as plain objects. */
async function middlewaresIn(path: string): Promise<unknown> {
  const written = parseConfig(await Deno.readTextFile(path), formatOf(path));
  return JSON.parse(JSON.stringify((written.http as { middlewares?: unknown }).middlewares));
}

async function withWorkDir(fn: (workDir: string) => Promise<void>): Promise<void> {
  const workDir = await Deno.makeTempDir({ prefix: "jhtp-providers-" });
  try {
    await fn(workDir);
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }
}

Deno.test("openStore rejects an unknown kind with a ConfigError naming known ones", async () => {
  for (const kind of ["zookeeper", "toString", "__proto__", ""]) {
    await withWorkDir(async (workDir) => {
      const provider = { kind } as unknown as ProviderOptions;
      await assert.rejects(
        openStore(provider, { workDir }),
        (error: Error) =>
          error instanceof ConfigError && error.message.includes(JSON.stringify(kind)) &&
          error.message.includes("file, redis, etcd, consul"),
      );
      assert.deepEqual([...Deno.readDirSync(workDir)], [], "nothing opened");
    });
  }
});

Deno.test("openStore for a file writes routes and the fixed part to one watched file", async () => {
  await withWorkDir(async (workDir) => {
    const path = `${workDir}/routes.yaml`;
    const opened = await openStore({ kind: "file", path }, { workDir, fixed: FIXED });
    try {
      assert.equal(opened.store.provider, "file");
      assert.deepEqual(opened.providers, { file: { filename: path, watch: true } });
      await opened.store.apply({ set: [ROUTE] });
      assert.deepEqual(await middlewaresIn(path), FIXED.http.middlewares);
      assert.equal((await opened.store.getRoute("/user/a/"))?.target, ROUTE.target);
    } finally {
      await opened.close();
    }
  });
});

Deno.test("openStore for a file defaults to rules.toml in the work directory", async () => {
  await withWorkDir(async (workDir) => {
    const opened = await openStore({ kind: "file" }, { workDir });
    await opened.close();
    assert.deepEqual(opened.providers, {
      file: { filename: `${workDir}/rules.toml`, watch: true },
    });
    assert.ok((await Deno.stat(`${workDir}/rules.toml`)).isFile);
  });
});

const SHARED: {
  kind: "redis" | "etcd";
  server: () => Promise<StoreServer>;
  provider: (server: StoreServer) => ProviderOptions;
  section: (server: StoreServer) => unknown;
}[] = [
  {
    kind: "redis",
    server: () => startRedis(),
    provider: (s) => ({ kind: "redis", url: s.url, traefikPrefix: "/tk/" }),
    section: (s) => ({ endpoints: [`127.0.0.1:${s.port}`], rootKey: "tk", db: 0 }),
  },
  {
    kind: "etcd",
    server: () => startEtcd(),
    provider: (s) => ({ kind: "etcd", urls: [s.url], traefikPrefix: "/tk/" }),
    section: (s) => ({ endpoints: [`127.0.0.1:${s.port}`], rootKey: "tk" }),
  },
];

for (const shared of SHARED) {
  Deno.test(`openStore for ${shared.kind} puts the fixed part in a private file`, async () => {
    const server = await shared.server();
    try {
      await withWorkDir(async (workDir) => {
        const opened = await openStore(shared.provider(server), { workDir, fixed: FIXED });
        try {
          assert.equal(opened.store.provider, shared.kind);
          const instance = `${workDir}/instance.toml`;
          assert.deepEqual(opened.providers, {
            file: { filename: instance, watch: true },
            [shared.kind]: shared.section(server),
          });
          assert.deepEqual(await middlewaresIn(instance), FIXED.http.middlewares);
          await opened.store.apply({ set: [ROUTE] });
          assert.equal((await opened.store.getRoute("/user/a/"))?.target, ROUTE.target);
          assert.doesNotMatch(await Deno.readTextFile(instance), /9000/, "no route in the file");
        } finally {
          await opened.close();
        }
      });
    } finally {
      await server.stop();
    }
  });
}

Deno.test("importing providers/mod.ts loads neither the redis nor the etcd client", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("./mod.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success, "deno info failed");
  const graph: {
    roots: string[];
    redirects: Record<string, string>;
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  } = JSON.parse(new TextDecoder().decode(output.stdout));
  const modules = new Map(graph.modules.map((module) => [module.specifier, module]));
  const resolve = (specifier: string) => graph.redirects[specifier] ?? specifier;

  // What runs on import: code dependencies that are not dynamic imports, transitively.
  function loadedOnImport(): Set<string> {
    const loaded = new Set<string>();
    const queue = graph.roots.map(resolve);
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      if (loaded.has(next)) continue;
      loaded.add(next);
      for (const dependency of modules.get(next)?.dependencies ?? []) {
        if (dependency.code && !dependency.isDynamic) {
          queue.push(resolve(dependency.code.specifier));
        }
      }
    }
    return loaded;
  }
  const all = [...modules.keys()];
  const loaded = [...loadedOnImport()];
  const clients = (specifiers: string[]) =>
    specifiers.filter((s) => /\/providers\/(redis|_redis_client|etcd|_etcd_client)\.ts$/.test(s));

  assert.equal(clients(all).length, 4, "the registry reaches both clients dynamically");
  assert.ok(loaded.some((s) => s.endsWith("/providers/file.ts")), "the file provider is static");
  assert.deepEqual(clients(loaded), []);
});
