/**
 * One CLI for a benchmark: started with `args` (and a private API port and token `bench`),
 * used by `fn` once `ready`, then stopped by its pid.
 *
 * @module
 */

import { freePort, waitFor } from "../tests/helpers.ts";

const SHIM = new URL("../tests/bin/configurable-http-proxy", import.meta.url).pathname;

/**
 * Runs `fn` with the API URL of a CLI started with `args`, once `ready` holds; stops the CLI.
 *
 * @example
 * ```ts
 * import { withCli } from "./_cli.ts";
 * // await withCli(["--port", "8000"], () => Promise.resolve(true), (apiUrl) => fetch(apiUrl));
 * ```
 */
export async function withCli<T>(
  args: string[],
  ready: () => Promise<boolean>,
  fn: (apiUrl: string) => Promise<T>,
): Promise<T> {
  const tmp = await Deno.makeTempDir({ prefix: "jhtp-bench-cli-" });
  const apiPort = freePort();
  const child = new Deno.Command(SHIM, {
    args: [...args, "--api-ip", "127.0.0.1", "--api-port", String(apiPort), "--log-level", "warn"],
    env: { CONFIGPROXY_AUTH_TOKEN: "bench", TMPDIR: tmp },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor(ready, "the CLI", 30_000);
    return await fn(`http://127.0.0.1:${apiPort}`);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * Adds the route `path` to `target` through a CLI's REST API (token `bench`), once the API
 * listens: it does a moment after traefik answers its health check.
 *
 * @example
 * ```ts
 * import { addRoute } from "./_cli.ts";
 * // await addRoute("http://127.0.0.1:8001", { path: "/user/a", target: "http://127.0.0.1:9000" });
 * ```
 */
export async function addRoute(
  apiUrl: string,
  route: { path: string; target: string },
): Promise<void> {
  const headers = { authorization: "token bench" };
  await waitFor(
    async () => {
      const listed = await fetch(`${apiUrl}/api/routes`, { headers });
      await listed.body?.cancel();
      return listed.ok;
    },
    "the REST API",
    30_000,
  );
  const response = await fetch(`${apiUrl}/api/routes${route.path}`, {
    method: "POST",
    headers,
    body: JSON.stringify({ target: route.target }),
  });
  await response.body?.cancel();
  if (response.status !== 201) throw new Error(`add route: ${response.status}`);
}
