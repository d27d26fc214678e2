/**
 * Launching the CLI as JupyterHub does, for tests.
 *
 * @module
 */

import { freePort } from "./helpers.ts";

/** The configurable-http-proxy stand-in that runs our CLI. */
export const SHIM = new URL("./bin/configurable-http-proxy", import.meta.url).pathname;

/** A CLI process. */
export interface Cli {
  child: Deno.ChildProcess;
  port: number;
  apiPort: number;
  publicUrl: string;
  apiUrl: string;
  stderr: () => string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export async function canConnect(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Launches the CLI exactly as JupyterHub's ConfigurableHTTPProxy does, and waits for both ports. */
export async function startCli(
  extra: string[] = [],
  options: { token?: string; port?: number; apiPort?: number; env?: Record<string, string> } = {},
): Promise<Cli> {
  const port = options.port ?? freePort();
  const apiPort = options.apiPort ?? freePort();
  // The CLI's private work directory goes under a directory of the test's own, removed at
  // stop(): a CLI killed with SIGKILL cannot remove it itself.
  const tmp = await Deno.makeTempDir({ prefix: "jhtp-cli-" });
  const child = new Deno.Command(SHIM, {
    args: [
      ...extra,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--api-ip",
      "127.0.0.1",
      "--api-port",
      String(apiPort),
      "--error-target",
      `http://127.0.0.1:${freePort()}/hub/error`,
      "--log-level",
      "info",
    ],
    env: { CONFIGPROXY_AUTH_TOKEN: options.token ?? "secret", TMPDIR: tmp, ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) err += decoder.decode(chunk);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 15_000; // JupyterHub's limit
  while (!(await canConnect(port) && await canConnect(apiPort))) {
    if (exited || Date.now() > deadline) {
      await child.status;
      await pumps;
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw new Error(`the CLI did not come up within 15 s:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    port,
    apiPort,
    publicUrl: `http://127.0.0.1:${port}`,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    stderr: () => err,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      const status = await child.status;
      await pumps;
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      return status.code;
    },
  };
}

/** Calls the CLI's REST API with a token. */
export function api(cli: Cli, method: string, path: string, body?: unknown, token = "secret") {
  return fetch(cli.apiUrl + "/api/routes" + path, {
    method,
    headers: { authorization: `token ${token}`, "content-type": "text/plain" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
