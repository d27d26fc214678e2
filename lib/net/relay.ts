/**
 * Byte relays between a listener and a place to connect to: for the public unix socket in front
 * of traefik (`--socket`), and for loopback ports in front of `http+unix://` targets (traefik
 * can neither listen on nor dial a unix socket). Nothing is parsed, so keep-alive, streamed
 * bodies, websockets and half-closed connections pass through unchanged.
 *
 * @module
 */

import { writeAll } from "./write_all.ts";

/** A running relay; stop it with `close()`. */
export interface ConnectionRelay {
  /** How many relayed connections are open now. */
  readonly connections: number;
  /**
   * Stops accepting, closes every open connection and waits for the relay to finish. Calling it
   * again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * Accepts connections on `listener` and relays each one's bytes, both ways, to a connection
 * `connect` opens. When one side finishes writing, the other is half-closed; a pair is closed
 * when both directions are done, on any error, or at once when `connect` fails.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { relayConnections } from "./relay.ts";
 * const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * (async () => {
 *   for await (const conn of echo) conn.readable.pipeTo(conn.writable).catch(() => {});
 * })();
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const relay = relayConnections(
 *   listener,
 *   () => Deno.connect({ hostname: "127.0.0.1", port: echo.addr.port }),
 * );
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * await conn.write(new TextEncoder().encode("ping"));
 * const buffer = new Uint8Array(4);
 * let read = 0;
 * while (read < 4) read += (await conn.read(buffer.subarray(read))) ?? 4;
 * assert.equal(new TextDecoder().decode(buffer), "ping");
 * conn.close();
 * await relay.close();
 * echo.close();
 * ```
 */
export function relayConnections(
  listener: Deno.Listener,
  connect: () => Promise<Deno.Conn>,
): ConnectionRelay {
  const open = new Set<Relayed>();
  const running = new Set<Promise<void>>();
  let closing = false;
  let closed: Promise<void> | undefined;

  const acceptLoop = (async () => {
    while (!closing) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch {
        if (closing) break;
        // A transient failure such as too many open files: wait a moment, then accept again.
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (closing) {
        client.close();
        break;
      }
      const relayed = new Relayed(client);
      open.add(relayed);
      const done = relayed.run(connect).finally(() => {
        open.delete(relayed);
        running.delete(done);
      });
      running.add(done);
    }
  })();

  return {
    get connections() {
      return open.size;
    },
    close() {
      closed ??= (async () => {
        closing = true;
        tryClose(listener);
        await acceptLoop;
        for (const relayed of open) relayed.close();
        await Promise.all(running);
      })();
      return closed;
    },
  };
}

/** One client connection and its connection to the other side. */
class Relayed {
  #client: Deno.Conn;
  #target: Deno.Conn | undefined;
  #closed = false;

  constructor(client: Deno.Conn) {
    this.#client = client;
  }

  /** Connects and pipes both ways until both directions are done; never rejects. */
  async run(connect: () => Promise<Deno.Conn>): Promise<void> {
    try {
      const conn = await connect();
      if (this.#closed) {
        tryClose(conn);
        return;
      }
      this.#target = conn;
      // Small websocket frames go out at once.
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      await Promise.all([pipe(this.#client, conn), pipe(conn, this.#client)]);
    } catch {
      // Unreachable, or one side failed: closing both ends the other direction.
    } finally {
      this.close();
    }
  }

  /** Closes both connections; pending reads and writes on them fail and end `run`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    tryClose(this.#client);
    if (this.#target) tryClose(this.#target);
  }
}

/** Copies `from` to `to` until `from` ends, then half-closes `to`. */
async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await from.read(buffer);
    if (n === null) break;
    await writeAll(to, buffer.subarray(0, n));
  }
  await to.closeWrite();
}

function tryClose(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}
