/**
 * Test helpers: free ports, tiny HTTP backends, process checks and polling.
 *
 * @module
 */

// Ports handed out by freePort in this process, never twice.
const handedOut = new Set<number>();
// The only port of the fetch standard's "bad ports" list above 10,000: `fetch` refuses it.
const FETCH_BAD_PORT = 10080;

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago, below the kernel's range of
 * ephemeral ports (from `/proc/sys/net/ipv4/ip_local_port_range`): a port the kernel picked for
 * `port: 0` could be taken by any outgoing connection (a redis client, a fetch) before the
 * server meant for it binds it, and traefik then fails to start.
 */
export function freePort(): number {
  let low = 32768;
  try {
    low = Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").split(/\s+/)[0]);
  } catch {
    // not Linux: below the usual range
  }
  const bottom = 10_000;
  for (let attempt = 0; attempt < 200 && low - bottom > 1_000; attempt++) {
    const port = bottom + Math.floor(Math.random() * (low - bottom));
    if (handedOut.has(port) || port === FETCH_BAD_PORT) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      continue; // in use
    }
    handedOut.add(port);
    return port;
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A backend HTTP server that answers every request with its name and the request's path. */
export interface Backend {
  /** Name reported in every response. */
  name: string;
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Number of requests served. */
  hits: number;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts a backend on a free loopback port. */
export function startBackend(name: string): Backend {
  const backend = { name, url: "", hits: 0 } as Backend;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      backend.hits++;
      const url = new URL(request.url);
      return Response.json({
        backend: name,
        path: url.pathname,
        host: request.headers.get("host"),
        forwardedFor: request.headers.get("x-forwarded-for"),
        testHeader: request.headers.get("x-test-header"),
      });
    },
  );
  backend.url = `http://127.0.0.1:${server.addr.port}`;
  backend.close = () => server.shutdown();
  return backend;
}

/** Result of a request through the proxy. */
export interface Hit {
  /** HTTP status. */
  status: number;
  /** Backend name, when a backend answered. */
  backend?: string;
  /** Path the backend saw. */
  path?: string;
  /** The `X-Test-Header` request header the backend saw. */
  testHeader?: string | null;
}

/** GETs `url` (raw path kept) and reports which backend answered. */
export async function hit(url: string, headers: HeadersInit = {}): Promise<Hit> {
  const response = await fetch(url, { headers, redirect: "manual" });
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return {
      status: response.status,
      backend: body.backend,
      path: body.path,
      testHeader: body.testHeader,
    };
  } catch {
    return { status: response.status };
  }
}

/** True while a process with this pid exists (and is not a zombie). */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Polls `check` every 50 ms until it returns true; throws after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * The command lines (arguments joined by spaces) of the processes whose parent is `pid`, e.g.
 * the traefik a CLI started.
 */
export async function childCommands(pid: number): Promise<string[]> {
  const commands: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const status = await Deno.readTextFile(`/proc/${entry.name}/status`).catch(() => "");
    if (!new RegExp(`^PPid:\\s+${pid}$`, "m").test(status)) continue;
    const command = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (command !== "") commands.push(command.replaceAll("\0", " ").trim());
  }
  return commands;
}

/** Pids of running traefik processes whose command line mentions `needle`. */
export async function traefikPids(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmd = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmd.includes("traefik") && cmd.includes(needle)) pids.push(Number(entry.name));
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * GETs `path` from `baseUrl` over a raw HTTP/1.1 connection with an explicit Host header
 * (fetch does not let a caller set Host).
 */
export async function rawGet(baseUrl: string, path: string, host: string): Promise<Hit> {
  const url = new URL(baseUrl);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  try {
    const request = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    const text = await new Response(conn.readable).text();
    const status = Number(text.slice(9, 12));
    const body = text.slice(text.indexOf("\r\n\r\n") + 4);
    try {
      const json = JSON.parse(body);
      return { status, backend: json.backend, path: json.path };
    } catch {
      return { status };
    }
  } finally {
    try {
      conn.close();
    } catch {
      // closed by reading to the end
    }
  }
}

/** A request body of `bytes` bytes, streamed in 1 MiB chunks (never held whole). */
export function streamedBody(bytes: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(1024 * 1024).fill(7);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const part = Math.min(chunk.length, bytes - sent);
      controller.enqueue(chunk.slice(0, part));
      sent += part;
    },
  });
}

/** A loopback server that accepts connections and never answers (see `silentServer`). */
export interface SilentServer {
  port: number;
  /** The connections accepted so far. */
  accepted: Deno.Conn[];
  /** Stops accepting and closes every accepted connection. */
  close(): Promise<void>;
}

/**
 * A peer that hangs: it accepts connections on a free loopback port, writes `greeting` (if
 * any) to each, and then never answers.
 */
export function silentServer(options: { greeting?: Uint8Array } = {}): SilentServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted.push(conn);
      if (options.greeting) await conn.write(options.greeting).catch(() => 0);
    }
  })();
  return {
    port: listener.addr.port,
    accepted,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of accepted) {
        try {
          conn.close();
        } catch {
          // closed by the other side
        }
      }
    },
  };
}
