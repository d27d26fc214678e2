/**
 * traefik's data plane at N routes with every user router on the public entry point (as today)
 * against a two-level tree of entry points: on the public one, a router per first letter of the
 * user name (`PathPrefix("/user/a")`) sends the request to a loopback entry point of traefik's
 * own that holds only that letter's user routers. traefik tries its routers one by one, so a
 * request costs it a scan of the routers above the one it matches (all of them for the
 * catch-all); the tree trades most of that scan for one more hop through traefik. wrk measures
 * each shape on three paths: a random user route, a path only the catch-all matches (the hub's
 * `/hub/...`), and a user route traefik does not have yet (a new user's first requests, which
 * go to the fallback). traefik alone, one branch per letter; the tree this proxy writes
 * (`lib/core/entry_tree.ts`) has twelve. Run by `deno task bench --sections=tree`, or alone:
 *
 *   deno run --allow-all bench/entry_tree.ts 10000
 *
 * @module
 */

import { freePort, startBackend, waitFor } from "../tests/helpers.ts";
import { cpuMs } from "./cpu.ts";
import { measureThroughput, type Throughput } from "./throughput.ts";
import { benchUser, USER_LETTERS } from "./workload.ts";

/** One shape at one path. */
export interface EntryTreeResult {
  /** Routes in the table. */
  n: number;
  /** `flat`: every router on the public entry point; `tree`: one entry point per letter. */
  shape: "flat" | "tree";
  /** Which requests. */
  path: string;
  /** wrk's result. */
  result: Throughput;
  /** traefik's CPU per request during the run, µs. */
  cpuUsPerRequest: number;
}

const quote = (text: string) => JSON.stringify(text);

/** The user of route `i`, as the bench names its users (the first letters in turn). */
const userName = (i: number) => benchUser("u", i);

function router(name: string, rule: string, service: string, entryPoint: string, priority: number) {
  return `[http.routers.${name}]\nrule = ${quote(rule)}\nservice = ${quote(service)}\n` +
    `entryPoints = [${quote(entryPoint)}]\npriority = ${priority}\n`;
}

function service(name: string, url: string) {
  return `[http.services.${name}.loadBalancer]\npassHostHeader = true\n` +
    `[[http.services.${name}.loadBalancer.servers]]\nurl = ${quote(url)}\n`;
}

/**
 * Measures both shapes with N user routes (`/user/<letter><i>/`), `seconds` of wrk per path.
 *
 * @example
 * ```ts
 * import { entryTree } from "./entry_tree.ts";
 * // const results = await entryTree(10_000);
 * ```
 */
export async function entryTree(n: number, seconds = 5): Promise<EntryTreeResult[]> {
  const backend = startBackend("tree");
  const results: EntryTreeResult[] = [];
  try {
    for (const shape of ["flat", "tree"] as const) {
      const dir = await Deno.makeTempDir({ prefix: "jhtp-tree-" });
      const port = freePort();
      const inner = Object.fromEntries([...USER_LETTERS].map((letter) => [letter, freePort()]));
      let dynamic = service("backend", backend.url);
      for (let i = 0; i < n; i++) {
        const entryPoint = shape === "tree" ? `u_${USER_LETTERS[i % USER_LETTERS.length]}` : "http";
        dynamic += router(
          `r${i}`,
          `PathPrefix("/user/${userName(i)}/")`,
          "backend",
          entryPoint,
          100,
        );
      }
      dynamic += router("catchall", 'PathPrefix("/")', "backend", "http", 1);
      let entryPoints = `[entryPoints.http]\naddress = "127.0.0.1:${port}"\n`;
      if (shape === "tree") {
        for (const letter of USER_LETTERS) {
          dynamic += router(
            `to_${letter}`,
            `PathPrefix("/user/${letter}")`,
            `u_${letter}`,
            "http",
            1000,
          );
          dynamic += service(`u_${letter}`, `http://127.0.0.1:${inner[letter]}`);
          dynamic += router(`catchall_${letter}`, 'PathPrefix("/")', "backend", `u_${letter}`, 1);
          entryPoints += `[entryPoints.u_${letter}]\naddress = "127.0.0.1:${inner[letter]}"\n` +
            `[entryPoints.u_${letter}.forwardedHeaders]\ntrustedIPs = ["127.0.0.1/32"]\n`;
        }
      }
      await Deno.writeTextFile(`${dir}/dynamic.toml`, dynamic);
      await Deno.writeTextFile(
        `${dir}/static.toml`,
        entryPoints +
          `[providers.file]\nfilename = ${quote(`${dir}/dynamic.toml`)}\n[log]\nlevel = "ERROR"\n`,
      );
      const traefik = new Deno.Command(new URL("../.tools/bin/traefik", import.meta.url).pathname, {
        args: [`--configFile=${dir}/static.toml`],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        const last = `http://127.0.0.1:${port}/user/${userName(n - 1)}/x`;
        await waitFor(
          async () => {
            try {
              const response = await fetch(last);
              return (await response.text()).includes(`"path":"/user/${userName(n - 1)}/x"`) &&
                response.status === 200;
            } catch {
              return false;
            }
          },
          "traefik serving the last route",
          120_000,
        );
        const script = `${dir}/random.lua`;
        await Deno.writeTextFile(
          script,
          `local letters = "${USER_LETTERS}"\nrequest = function()\n` +
            `  local i = math.random(0, ${n - 1})\n` +
            `  local letter = string.sub(letters, (i % 26) + 1, (i % 26) + 1)\n` +
            `  return wrk.format("GET", "/user/" .. letter .. "u" .. i .. "/x")\nend\n`,
        );
        const base = `http://127.0.0.1:${port}`;
        const paths: [string, string, string | undefined][] = [
          ["a random user route", base, script],
          ["the catch-all (/hub/home)", `${base}/hub/home`, undefined],
          ["a user route traefik lacks", `${base}/user/${benchUser("new", 0)}/x`, undefined],
        ];
        for (const [path, url, lua] of paths) {
          const before = cpuMs(traefik.pid);
          const result = await measureThroughput(url, seconds, lua);
          const used = cpuMs(traefik.pid) - before;
          results.push({
            n,
            shape,
            path,
            result,
            cpuUsPerRequest: used * 1000 / (result.rps * seconds),
          });
        }
      } finally {
        traefik.kill();
        await traefik.status;
        await Deno.remove(dir, { recursive: true });
      }
    }
  } finally {
    await backend.close();
  }
  return results;
}

if (import.meta.main) {
  for (const r of await entryTree(Number(Deno.args[0] ?? 10_000))) {
    console.log(
      `N=${r.n} ${r.shape}, ${r.path}: ${r.result.rps.toFixed(0)} req/s, p50 ${
        r.result.p50.toFixed(2)
      } ms, p99 ${r.result.p99.toFixed(2)} ms, traefik ${r.cpuUsPerRequest.toFixed(0)} µs/request`,
    );
  }
}
