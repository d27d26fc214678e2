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

/** A process started by `startProcess`. */
export interface Started {
  child: Deno.ChildProcess;
  /** Its standard output and error so far. */
  output(): string;
  /** SIGTERM (SIGKILL after 15 s), then the exit code; removes its private TMPDIR. */
  stop(): Promise<number>;
}

/** Options of `startProcess`. */
export interface StartProcessOptions {
  command: string;
  args: string[];
  /** Environment beside this process's own; `TMPDIR` is a private directory. */
  env: Record<string, string>;
  /** Polled until true (a rejection counts as false). */
  ready: () => Promise<boolean>;
  /** How long `ready` may take, in ms. */
  upMs: number;
  /** What did not come up, for the error. */
  what: string;
}

/**
 * configurable-http-proxy's flags for a public port and a REST API port on 127.0.0.1 (this
 * proxy's CLI takes the same).
 */
export function loopbackArgs(ports: { port: number; apiPort: number }): string[] {
  return [
    ...["--ip", "127.0.0.1", "--port", String(ports.port)],
    ...["--api-ip", "127.0.0.1", "--api-port", String(ports.apiPort)],
  ];
}

/** A spawned process whose standard output and error are collected (see `spawnCollecting`). */
export interface Collecting {
  child: Deno.ChildProcess;
  /** Everything it wrote so far, both streams interleaved. */
  output(): string;
  /** Resolves once both streams have ended. */
  drained: Promise<void>;
}

/** Spawns `command` with no input, collecting what it writes on stdout and stderr. */
export function spawnCollecting(
  command: string,
  options: Omit<Deno.CommandOptions, "stdin" | "stdout" | "stderr">,
): Collecting {
  const child = new Deno.Command(command, {
    ...options,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const drained = Promise.all([child.stdout, child.stderr].map(async (stream) => {
    for await (const chunk of stream) output += decoder.decode(chunk);
  })).then(() => {});
  return { child, output: () => output, drained };
}

/**
 * Starts a process with a private TMPDIR (removed at stop: a process killed with SIGKILL cannot
 * remove its own files) and waits for `ready`. One that does not come up in time is stopped, and
 * the error carries its output.
 */
export async function startProcess(options: StartProcessOptions): Promise<Started> {
  const tmp = await Deno.makeTempDir({ prefix: "jhtp-cli-" });
  const { child, output, drained } = spawnCollecting(options.command, {
    args: options.args,
    env: { ...options.env, TMPDIR: tmp },
  });
  let exited = false;
  child.status.then(() => exited = true);
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
    await drained;
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    return status.code;
  };
  const deadline = Date.now() + options.upMs;
  while (!(await options.ready().catch(() => false))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(
        `${options.what} did not come up within ${options.upMs / 1000} s:\n${
          output().slice(-4000)
        }`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, output, stop };
}

/**
 * Launches the CLI exactly as JupyterHub's ConfigurableHTTPProxy does, and waits for both
 * ports. A CLI that does not come up in time is stopped, and the error carries its output.
 */
export async function startCli(extra: string[] = [], options: StartCliOptions = {}): Promise<Cli> {
  const port = options.port ?? freePort();
  const apiPort = options.apiPort ?? freePort();
  const started = await startProcess({
    command: SHIM,
    args: [
      ...extra,
      ...loopbackArgs({ port, apiPort }),
      "--error-target",
      `http://127.0.0.1:${freePort()}/hub/error`,
      "--log-level",
      options.logLevel ?? "info",
    ],
    env: { CONFIGPROXY_AUTH_TOKEN: options.token ?? "secret", ...options.env },
    ready: async () => await canConnect(port) && await canConnect(apiPort),
    upMs: options.upMs ?? 15_000,
    what: "the CLI",
  });
  return {
    child: started.child,
    port,
    apiPort,
    publicUrl: `http://127.0.0.1:${port}`,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    stderr: started.output,
    stop: started.stop,
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
