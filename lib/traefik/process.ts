/**
 * The traefik process: find the binary, write the static configuration, start it with
 * `Deno.Command`, wait until it has loaded our configuration, restart it if it dies, and stop
 * it with SIGTERM (then SIGKILL after a grace period).
 *
 * @module
 */

import { traefikCacheDir } from "./install.ts";
import { stringifyConfig } from "../core/config_format.ts";
import { TraefikNotFoundError, TraefikStartError } from "../core/errors.ts";
import { TIMED_OUT, withTimeout } from "../async/timeout.ts";
import type { TraefikApi } from "./api.ts";
import type { ConfigTree } from "../core/types.ts";

/** Options of `findTraefik`. */
export interface FindTraefikOptions {
  /** Environment to read `TRAEFIK_BIN` and `PATH` from; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** An explicit binary: only this one is considered. */
  binary?: string;
}

/**
 * Finds the traefik binary: `TRAEFIK_BIN`, then `PATH`, then the cache of `installTraefik`,
 * then the project's `.tools/bin`, then the directory of the running executable (for a
 * compiled binary shipped beside traefik).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TraefikNotFoundError } from "../core/errors.ts";
 * import { findTraefik } from "./process.ts";
 * await assert.rejects(findTraefik({ binary: "/nonexistent/traefik" }), TraefikNotFoundError);
 * ```
 * @throws {TraefikNotFoundError} when none of these has an executable traefik.
 */
export async function findTraefik(options: FindTraefikOptions = {}): Promise<string> {
  const env = options.env ?? Deno.env.toObject();
  const candidates: string[] = [];
  if (options.binary) {
    if (await isExecutable(options.binary)) return options.binary;
    throw new TraefikNotFoundError(options.binary);
  }
  if (env.TRAEFIK_BIN) {
    if (await isExecutable(env.TRAEFIK_BIN)) return env.TRAEFIK_BIN;
    throw new TraefikNotFoundError(env.TRAEFIK_BIN);
  }
  for (const dir of (env.PATH ?? "").split(":")) if (dir) candidates.push(`${dir}/traefik`);
  // Where `deno task install-traefik` (lib/traefik/install.ts) puts it.
  candidates.push(`${traefikCacheDir(env)}/traefik`);
  if (import.meta.url.startsWith("file:")) {
    candidates.push(new URL("../../.tools/bin/traefik", import.meta.url).pathname);
  }
  candidates.push(Deno.execPath().replace(/[^/]*$/, "traefik"));
  for (const candidate of candidates) if (await isExecutable(candidate)) return candidate;
  throw new TraefikNotFoundError();
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Options of `startTraefik`. */
export interface StartTraefikOptions {
  /** Static configuration, written as `traefik.toml` in `workDir`. */
  staticConfig: ConfigTree;
  /** Private directory for the static configuration. */
  workDir: string;
  /** Where to write the static configuration; default `<workDir>/traefik.toml`. */
  configPath?: string;
  /** The binary; default: `findTraefik()`. */
  binary?: string;
  /** Client of the API that the static configuration exposes. */
  api: TraefikApi;
  /** API path that answers 200 once our configuration is loaded. */
  readyPath: string;
  /** How long to wait for readiness, in ms; default 30,000. */
  startTimeoutMs?: number;
  /** How long SIGTERM may take before SIGKILL, in ms; default 10,000. */
  stopGraceMs?: number;
  /** Restart traefik when it exits unexpectedly; default true. */
  restart?: boolean;
  /** Receives one line for each lifecycle event (started, exited, restarted). */
  log?: (message: string) => void;
  /** Environment variables for traefik beside this process's own (`TRAEFIK_*` are not passed). */
  env?: Record<string, string>;
  /**
   * Receives traefik's standard output line by line (its access log, its own log unless that
   * goes elsewhere); default: each line goes to this process's standard output. Either way
   * without the warning traefik 3.6 logs at every start whatever its configuration
   * (`isStartNoise`).
   */
  stdoutLines?: (line: string) => void;
}

/** A running, supervised traefik. */
export interface TraefikProcess {
  /** Process id of the current traefik. */
  readonly pid: number;
  /** How often traefik was restarted after exiting unexpectedly. */
  readonly restarts: number;
  /** Path of the static configuration file. */
  readonly configPath: string;
  /** Stops supervision and traefik: SIGTERM, then SIGKILL after the grace period. */
  stop(): Promise<void>;
}

/**
 * Starts traefik and waits until `readyPath` answers 200 through its API.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { traefikApi } from "./api.ts";
 * import { startTraefik } from "./process.ts";
 * import { staticConfig } from "./static_config.ts";
 * const free = () => {
 *   const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 *   listener.close();
 *   return listener.addr.port;
 * };
 * const workDir = await Deno.makeTempDir();
 * const apiAddress = `127.0.0.1:${free()}`;
 * const traefik = await startTraefik({
 *   staticConfig: staticConfig({
 *     publicAddress: `127.0.0.1:${free()}`,
 *     apiAddress,
 *     providers: { file: { directory: workDir } },
 *   }),
 *   workDir,
 *   api: traefikApi({ url: `http://${apiAddress}` }),
 *   readyPath: "/ping",
 * });
 * assert.ok(traefik.pid > 0);
 * await traefik.stop();
 * await Deno.remove(workDir, { recursive: true });
 * ```
 * @throws {TraefikNotFoundError} when no binary is found.
 * @throws {TraefikStartError} when traefik exits before it is ready or is not ready in time
 *   (it is stopped then).
 */
export async function startTraefik(options: StartTraefikOptions): Promise<TraefikProcess> {
  const binary = await findTraefik({ binary: options.binary });
  const configPath = options.configPath ?? `${options.workDir}/traefik.toml`;
  await Deno.writeTextFile(configPath, stringifyConfig(options.staticConfig, "toml"), {
    mode: 0o600,
  });
  const log = options.log ?? (() => {});
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const graceMs = options.stopGraceMs ?? 10_000;
  let child: Deno.ChildProcess;
  let exited: Promise<Deno.CommandStatus>;
  let stopping = false;
  let restarts = 0;

  // On Linux, setpriv makes the kernel send traefik SIGTERM when this process dies, even by
  // SIGKILL, so an orphaned traefik never holds the ports a restarted proxy needs.
  const setpriv = Deno.build.os === "linux" ? await findExecutable("setpriv") : undefined;
  const [command, prefix] = setpriv ? [setpriv, ["--pdeathsig", "SIGTERM", binary]] : [binary, []];

  function spawn(): void {
    child = new Deno.Command(command, {
      args: [...prefix, `--configFile=${configPath}`],
      // traefik reads TRAEFIK_* variables as static configuration: keep ours away from it.
      env: { ...traefikEnv(), ...options.env },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = options.stdoutLines ?? ((line: string) => console.log(line));
    readLines(child.stdout, (line) => {
      if (!isStartNoise(line)) lines(line);
    });
    exited = child.status;
    const current = child;
    exited.then((status) => {
      if (stopping || current !== child) return;
      log(`traefik (pid ${current.pid}) exited with code ${status.code}`);
      if (options.restart === false || supervising) return; // the running loop restarts it
      supervise();
    });
  }

  // One restart loop at a time: an instance that exits while the loop waits for it to be
  // ready is the loop's to restart, not a second loop's (two loops doubled the instances).
  let supervising = false;
  async function supervise(): Promise<void> {
    supervising = true;
    try {
      await restartUntilReady();
    } finally {
      supervising = false;
    }
  }

  async function restartUntilReady(): Promise<void> {
    let delay = 500;
    while (!stopping) {
      await new Promise((r) => setTimeout(r, delay));
      if (stopping) return;
      restarts++;
      spawn();
      log(`restarted traefik (pid ${child.pid})`);
      const outcome = await waitReady(child, exited, 10_000);
      if (outcome === "ready" || stopping) return;
      if (outcome === "timeout") return; // still running; its exit will supervise again
      delay = Math.min(delay * 2, 10_000);
    }
  }

  async function waitReady(
    proc: Deno.ChildProcess,
    status: Promise<Deno.CommandStatus>,
    timeoutMs: number,
  ): Promise<"ready" | "exited" | "timeout"> {
    let gone = false;
    status.then(() => gone = true);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (gone || proc !== child) return "exited";
      try {
        const { status: code } = await options.api.get(options.readyPath);
        if (code === 200) return "ready";
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    return "timeout";
  }

  async function stop(): Promise<void> {
    if (stopping) return await exited.then(() => {});
    stopping = true;
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    if (await withTimeout(exited, graceMs) === TIMED_OUT) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await exited;
    }
  }

  spawn();
  const outcome = await waitReady(child!, exited!, startTimeoutMs);
  if (outcome !== "ready") {
    const code = outcome === "exited" ? (await exited!).code : undefined;
    await stop();
    throw new TraefikStartError(
      outcome === "exited"
        ? `traefik exited with code ${code} before it was ready; its log above says why ` +
          "(usually a port already in use or an invalid static configuration)"
        : `traefik did not load our configuration within ${startTimeoutMs} ms; ` +
          "check its log above and that its API address is free",
    );
  }
  log(`traefik (pid ${child!.pid}) is ready`);
  return {
    get pid() {
      return child.pid;
    },
    get restarts() {
      return restarts;
    },
    configPath,
    stop,
  };
}

async function findExecutable(name: string): Promise<string | undefined> {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/bin", "/bin"]);
  for (const dir of dirs) {
    if (!dir) continue;
    if (await isExecutable(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

function traefikEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(Deno.env.toObject())) {
    if (!key.startsWith("TRAEFIK_")) env[key] = value;
  }
  return env;
}

/**
 * traefik 3.6 warns at every start that it "can reject some encoded characters in the request
 * path", unconditionally (cmd/traefik/traefik.go), even when every `encodedCharacters` option is
 * set, as `staticConfig` sets them all explicitly: the line tells an operator nothing.
 */
function isStartNoise(line: string): boolean {
  return line.includes("Traefik can reject some encoded characters in the request path");
}

/** Calls `each` with every line of `stream` (without its line break) until the stream ends. */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  each: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  try {
    for await (const chunk of stream) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        // A line that cannot be handled (our own stdout gone) must not end the reading: traefik
        // would then block on, or die of, a pipe nobody reads.
        try {
          each(line);
        } catch {
          // dropped
        }
      }
    }
  } catch {
    // The process ended: nothing more to read.
  }
  try {
    if (rest !== "") each(rest);
  } catch {
    // dropped
  }
}
