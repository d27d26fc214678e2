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

/** Options of `startCli`. */
export interface StartCliOptions {
  /** `CONFIGPROXY_AUTH_TOKEN`; default `secret`. */
  token?: string;
  /** Public port; default a free one. */
  port?: number;
  /** API port; default a free one. */
  apiPort?: number;
  /** More environment. */
  env?: Record<string, string>;
  /** `--log-level`; default `info`. */
  logLevel?: string;
  /** How long the ports may take to open, in ms; default 15,000 (JupyterHub's limit). */
  upMs?: number;
}

/**
 * Launches the CLI exactly as JupyterHub's ConfigurableHTTPProxy does, and waits for both
 * ports. A CLI that does not come up in time is stopped, and the error carries its output.
 */
export async function startCli(extra: string[] = [], options: StartCliOptions = {}): Promise<Cli> {
  const port = options.port ?? freePort();
  const apiPort = options.apiPort ?? freePort();
  const upMs = options.upMs ?? 15_000;
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
      options.logLevel ?? "info",
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
  // SIGTERM, and SIGKILL if the CLI is still there after 15 s.
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // gone
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 15_000);
    const status = await child.status;
    clearTimeout(timer);
    await pumps;
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    return status.code;
  };
  const deadline = Date.now() + upMs;
  while (!(await canConnect(port) && await canConnect(apiPort))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`the CLI did not come up within ${upMs / 1000} s:\n${err.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    port,
    apiPort,
    publicUrl: `http://127.0.0.1:${port}`,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    stderr: () => err,
    stop,
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
