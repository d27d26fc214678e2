/**
 * A unix-socket face for traefik: traefik cannot listen on a unix socket, so for `--socket`
 * and `--api-socket` this listens on the socket and relays every connection's bytes, unchanged
 * and in both directions, to a loopback TCP port (traefik's entry point). Keep-alive, streamed
 * bodies, websockets and half-closed connections pass through because nothing is parsed.
 *
 * @module
 */

import { ConfigError } from "../core/errors.ts";
import { relayConnections } from "../net/relay.ts";

/**
 * Prepares `path` to be listened on as a unix socket. A socket file that refuses connections
 * (left behind by a process that is gone) is removed; nothing else is changed.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSocketPath } from "./unix_relay.ts";
 * const dir = await Deno.makeTempDir();
 * await checkSocketPath(`${dir}/proxy.sock`, "--socket");
 * await assert.rejects(
 *   checkSocketPath(`${dir}/missing/proxy.sock`, "--socket"),
 *   /^ConfigError: --socket: the directory of /,
 * );
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws {ConfigError} naming `flag` and `path` when the parent directory does not exist, when
 * `path` exists and is not a socket, when another process accepts connections on it, or when it
 * cannot be examined.
 */
export async function checkSocketPath(path: string, flag: string): Promise<void> {
  const parent = parentDirectory(path);
  let parentInfo: Deno.FileInfo;
  try {
    parentInfo = await Deno.stat(parent);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ConfigError(
        `${flag}: the directory of ${path} does not exist; create ${parent} or choose another path`,
      );
    }
    throw cannotUse(flag, path, error);
  }
  if (!parentInfo.isDirectory) {
    throw new ConfigError(
      `${flag}: ${parent}, the directory of ${path}, is not a directory; choose another path`,
    );
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw cannotUse(flag, path, error);
  }
  if (!info.isSocket) {
    throw new ConfigError(
      `${flag}: ${path} exists and is not a socket; move it away or choose another path`,
    );
  }
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionRefused)) throw cannotUse(flag, path, error);
    try {
      await Deno.remove(path);
    } catch (removeError) {
      if (!(removeError instanceof Deno.errors.NotFound)) throw cannotUse(flag, path, removeError);
    }
    return;
  }
  conn.close();
  throw new ConfigError(
    `${flag}: ${path} is in use by another process; stop that process or choose another path`,
  );
}

/** Where {@linkcode unixRelay} listens and where it relays to. */
export interface UnixRelayOptions {
  /** The unix socket to listen on. */
  path: string;
  /** The TCP address every connection is relayed to, such as traefik's public entry point. */
  target: { hostname: string; port: number };
  /** The flag named in error messages; `"--socket"` unless given. */
  flag?: string;
  /** Permission bits to set on the socket file, such as `0o600`; left as created unless given. */
  mode?: number;
}

/** A running relay from a unix socket to a TCP address; stop it with `close()`. */
export interface UnixRelay {
  /** The unix socket listened on. */
  readonly path: string;
  /** How many relayed connections are open now. */
  readonly connections: number;
  /**
   * Stops accepting, closes every open connection, waits for the relay to finish and removes
   * the socket file. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * Listens on the unix socket `options.path` and relays every connection's bytes to
 * `options.target` over TCP, both ways and unchanged. When one side finishes writing, the other
 * is half-closed; a connection is closed when both directions are done, on any error, or at
 * once when the target cannot be reached.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { unixRelay } from "./unix_relay.ts";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/proxy.sock`;
 * const relay = await unixRelay({ path, target: { hostname: "127.0.0.1", port: 8000 } });
 * assert.equal(relay.path, path);
 * assert.equal(relay.connections, 0);
 * assert.ok((await Deno.lstat(path)).isSocket);
 * await relay.close();
 * await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
 * await Deno.remove(dir);
 * ```
 * @throws {ConfigError} naming `options.flag` when the path cannot be used (see
 * {@linkcode checkSocketPath}), cannot be listened on, or its mode cannot be set.
 */
export async function unixRelay(options: UnixRelayOptions): Promise<UnixRelay> {
  const { path, target, mode } = options;
  const flag = options.flag ?? "--socket";
  await checkSocketPath(path, flag);
  let listener: Deno.UnixListener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (error) {
    throw cannotUse(flag, path, error);
  }
  if (mode !== undefined) {
    try {
      await Deno.chmod(path, mode);
    } catch (error) {
      listener.close();
      await removeSocketFile(path);
      throw cannotUse(flag, path, error);
    }
  }

  let closed: Promise<void> | undefined;
  const relay = relayConnections(
    listener,
    () => Deno.connect({ hostname: target.hostname, port: target.port }),
  );
  return {
    path,
    get connections() {
      return relay.connections;
    },
    close() {
      closed ??= relay.close().then(() => removeSocketFile(path));
      return closed;
    },
  };
}

function parentDirectory(path: string): string {
  const slash = path.replace(/\/+$/, "").lastIndexOf("/");
  if (slash < 0) return ".";
  if (slash === 0) return "/";
  return path.slice(0, slash);
}

function cannotUse(flag: string, path: string, error: unknown): ConfigError {
  const message = error instanceof Error ? error.message : String(error);
  return new ConfigError(
    `${flag}: cannot use ${path} as a unix socket: ${message}; choose another path`,
    { cause: error },
  );
}

async function removeSocketFile(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // Already gone, or removed and replaced by someone else's: nothing of ours is left.
  }
}
