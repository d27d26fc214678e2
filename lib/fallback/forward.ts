/**
 * Forwarding one request to a route's target, as configurable-http-proxy does and traefik's load
 * balancer with `passHostHeader: true`: the fallback server calls `forward` once it has found the
 * route of a request traefik had no router for yet.
 *
 * - The upstream request goes to the target's address with the target's path (without its
 *   trailing slash) followed by the request's path and query exactly as the client sent them
 *   (`%2F`, `%24`, `+`, dot segments and the case of `%7e` are kept): target
 *   `http://127.0.0.1:9000/prefix` and request `/user/a%24b/api?x=1` ask for
 *   `/prefix/user/a%24b/api?x=1`. traefik cleans dot segments before us.
 * - Every end-to-end header goes through unchanged, `Host` and the `X-Forwarded-*` and
 *   `X-Real-Ip` headers traefik set included; the hop-by-hop headers (`Connection` and the
 *   headers it names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`,
 *   `Upgrade`) are dropped both ways. Several `Set-Cookie` headers stay several.
 * - Bodies stream both ways. A request body keeps its `Content-Length` (without one it goes
 *   chunked; a GET's or HEAD's length goes nowhere, as `Deno.serve` gives them no body); a
 *   response of at most 64 KiB with a `Content-Length` is read whole first.
 * - Redirects are passed to the client, not followed; a compressed response reaches the client
 *   byte for byte with its `Content-Encoding` (the server that returns the response must not
 *   compress it again: `Deno.serve` does not unless `automaticCompression` or the environment
 *   variable `DENO_SERVE_AUTOMATIC_COMPRESSION` turns it on; pass `automaticCompression: false`).
 * - Targets are reached by this module's own HTTP/1.1 client (`upstreamPool`, with keep-alive
 *   when a pool is given; over TLS for `https://` targets, with the CAs and client certificate
 *   of `tls`), which costs a forwarded request about half the CPU of `fetch` and adds no header
 *   of its own (`Host` only when the client sent none). A response head that is not usable
 *   HTTP/1.x is answered 502.
 * - Only a caller that gives a `fetch` client (`client`) and no `tls` has its `https://`
 *   targets reached through `fetch`. Deno's `fetch` decodes gzip and br bodies unless the first
 *   `Accept-Encoding` field is `identity`, so that request carries an `Accept-Encoding:
 *   identity` field before the client's own; it sends an `Accept` of any media type,
 *   `Accept-Language: *` and a Deno `User-Agent` when the client sent none, and resolves dot
 *   segments in the path.
 * - A WebSocket upgrade opens a WebSocket to the target (ws:// or wss://) with the client's
 *   headers and subprotocols; once it is open, the client's request is upgraded with the
 *   subprotocol the target chose, and messages, close codes and reasons are relayed both ways.
 *   Its handshake carries a Deno `User-Agent` field before the client's.
 * - A target that cannot be reached (refused, DNS, a certificate refused, reset before the
 *   response headers) is answered by `onUnreachable`, a plain-text 503 by default. A target that fails in the middle
 *   of a response ends the client's response there; a client that goes away aborts the
 *   upstream request. A client's `request.signal` is used for that: with `Deno.serve`'s legacy
 *   abort behaviour (before `--unstable-no-legacy-abort`) Deno logs one warning about it per
 *   process.
 *
 * @module
 */

import { openUpstream, type TargetTls, type UpstreamSocket } from "./_ws_upstream.ts";
import { BadResponseError, contentLength, HOP_BY_HOP, requestHead } from "./_http1_head.ts";
import {
  RequestBodyError,
  type UpstreamPool,
  upstreamPool,
  type UpstreamResponse,
} from "./upstream_pool.ts";
import { TargetError } from "../core/errors.ts";
import { rawRequestPath } from "../core/request_path.ts";
import { badGateway, plainText } from "./_plain_text.ts";

export type { TargetTls } from "./_ws_upstream.ts";

/**
 * Options of `forward`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { forward, type ForwardOptions } from "./forward.ts";
 * const options: ForwardOptions = {
 *   onUnreachable: () => new Response("the server is starting, retry soon", { status: 503 }),
 * };
 * const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = probe.addr.port;
 * probe.close(); // nothing listens on `port` any more
 * const response = await forward(new Request("http://hub.example/user/a/"), `http://127.0.0.1:${port}`, options);
 * assert.equal(response.status, 503);
 * assert.equal(await response.text(), "the server is starting, retry soon");
 * ```
 */
export interface ForwardOptions {
  /**
   * Called when the target cannot be reached (connection refused, DNS, reset before the response
   * headers); returns the response to send. Default: a plain-text 503.
   */
  onUnreachable?: (request: Request, error: unknown) => Response | Promise<Response>;
  /**
   * The connections to targets, kept open between requests; default none kept (a
   * connection per request). The owner closes it.
   */
  pool?: UpstreamPool;
  /**
   * A `fetch` client for `https://` targets, used only without `tls`; create it with
   * `allowHost: true`, or the targets see their own address as `Host` instead of the client's.
   * Default: none (`https://` targets go through the pool, with the system's CAs).
   */
  client?: Deno.HttpClient;
  /**
   * The CAs and client certificate for `https://` and `wss://` targets (JupyterHub's internal
   * SSL); default the system's CAs and no certificate. Read once per object: give the same
   * object (or equal material) for connections to be shared.
   */
  tls?: TargetTls;
  /**
   * Called for what configurable-http-proxy counts as the route's activity: a response with a
   * status below 300, a websocket's upgrade and every message it carries either way.
   */
  onActivity?: () => void;
}

/**
 * Proxies `request` to `target`, an `http://` or `https://` URL that may end in a path prefix,
 * and resolves to the response for the client: the target's response, a WebSocket upgrade
 * relayed to the target, or `onUnreachable`'s answer. Rejects with `TargetError` when `target`
 * is not an http(s) URL. Never rejects because of the target or the client.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { forward } from "./forward.ts";
 * const backend = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (request) => new Response(`${request.headers.get("host")} ${new URL(request.url).pathname}`),
 * );
 * try {
 *   const request = new Request("http://hub.example/user/a%24b/api", {
 *     method: "POST",
 *     headers: { host: "hub.example" }, // as Deno.serve shows the client's Host
 *     body: "x",
 *   });
 *   const response = await forward(request, `http://127.0.0.1:${backend.addr.port}/prefix`);
 *   assert.equal(response.status, 200);
 *   assert.equal(await response.text(), "hub.example /prefix/user/a%24b/api");
 * } finally {
 *   await backend.shutdown();
 * }
 * ```
 */
export function forward(
  request: Request,
  target: string,
  options: ForwardOptions = {},
): Promise<Response> {
  if (!target.startsWith("http://") && !target.startsWith("https://")) {
    return Promise.reject(new TargetError(target, "only http and https targets are proxied"));
  }
  let where: ParsedTarget;
  try {
    where = parsedTarget(target); // refuses a target that is not a URL (parsed once per target)
  } catch (error) {
    return Promise.reject(error);
  }
  const onUnreachable = options.onUnreachable ?? unreachable;
  const onActivity = options.onActivity;
  if (isWebSocketUpgrade(request)) {
    return forwardWebSocket(request, "ws" + upstreamUrl(target, request.url).slice(4), {
      tls: options.tls,
      onUnreachable,
      onActivity,
    });
  }
  // https through fetch only for a caller that gave a fetch client and no TLS material.
  const secure = target.startsWith("https://");
  const viaFetch = secure && options.tls === undefined && options.client !== undefined;
  const response = !viaFetch
    ? forwardHttp1(request, where, {
      pool: options.pool ?? onePerRequest,
      onUnreachable,
      tls: secure ? options.tls ?? SYSTEM_CAS : undefined,
    })
    : forwardFetch(
      request,
      upstreamUrl(target, request.url),
      options.client!,
      onUnreachable,
    );
  if (onActivity === undefined) return response;
  return response.then((answer) => {
    if (answer.status < 300) onActivity();
    return answer;
  });
}

/** Keeps no connection: nothing outlives a request. */
const onePerRequest = upstreamPool({ maxIdle: 0 });

/** TLS to https targets with the system's CAs and no client certificate. */
const SYSTEM_CAS: TargetTls = {};

/** Headers of a WebSocket handshake that belong to one hop; `WebSocket` writes its own. */
const WEBSOCKET_HANDSHAKE = new Set([
  "sec-websocket-accept",
  "sec-websocket-extensions",
  "sec-websocket-key",
  "sec-websocket-protocol",
  "sec-websocket-version",
]);

/** Statuses whose responses have no body. */
const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

/** `ws.close` accepts no other codes from a client (the upstream side of the relay). */
function isClientCloseCode(code: number): boolean {
  return code === 1000 || (code >= 3000 && code <= 4999);
}

/** The default answer when the target cannot be reached. */
function unreachable(): Response {
  return plainText(503, "503 Service Unavailable: the server of this route cannot be reached");
}

/**
 * The target, without its trailing slash, followed by the request's raw path and query. The
 * characters `fetch`'s URL parser would change rather than keep are escaped: `\` in the path
 * (it would become `/`) and `#` (it would start a fragment and be dropped).
 */
function upstreamUrl(target: string, requestUrl: string): string {
  return (target.endsWith("/") ? target.slice(0, -1) : target) + requestPath(requestUrl);
}

/** The request's raw path and query, `\\` and `#` escaped (see `upstreamUrl`). */
function requestPath(requestUrl: string): string {
  let path = rawRequestPath(requestUrl);
  if (path.includes("\\") || path.includes("#")) {
    const query = path.indexOf("?");
    const end = query < 0 ? path.length : query;
    path = path.slice(0, end).replaceAll("\\", "%5C").replaceAll("#", "%23") +
      path.slice(end).replaceAll("#", "%23");
  }
  return path;
}

/** Where a target is: its address, its `Host`, and the path before the request's. */
interface ParsedTarget {
  hostname: string;
  port: number;
  host: string;
  prefix: string;
}

/** Targets parsed once (a cache of a pure function, bounded). */
const parsedTargets = new Map<string, ParsedTarget>();

function parsedTarget(target: string): ParsedTarget {
  let parsed = parsedTargets.get(target);
  if (parsed !== undefined) return parsed;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new TargetError(target, "not a valid URL");
  }
  parsed = {
    hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port),
    host: url.host,
    prefix: url.pathname.endsWith("/") ? url.pathname.slice(0, -1) : url.pathname,
  };
  if (parsedTargets.size >= 4096) parsedTargets.clear();
  parsedTargets.set(target, parsed);
  return parsed;
}

/** Characters a request target cannot carry as they are (a `Request` of this process's own). */
const NOT_IN_TARGET = /[^\x21-\x7e]/;

/** The lower-cased header names a `Connection` header lists. */
function connectionTokens(headers: Headers): Set<string> | undefined {
  const connection = headers.get("connection");
  if (connection === null) return undefined;
  const tokens = new Set<string>();
  for (const token of connection.split(",")) tokens.add(token.trim().toLowerCase());
  return tokens;
}

function isWebSocketUpgrade(request: Request): boolean {
  if (request.method !== "GET") return false;
  const upgrade = request.headers.get("upgrade");
  return upgrade !== null && upgrade.toLowerCase().includes("websocket");
}

/**
 * The request's end-to-end headers as a list, so that the `Accept-Encoding: identity` field
 * stays a field of its own, before the client's (a `Headers` object would join them, and Deno's
 * `fetch` would then decode compressed responses).
 */
function upstreamRequestHeaders(headers: Headers): [string, string][] {
  const acceptEncoding = headers.get("accept-encoding");
  const list: [string, string][] = acceptEncoding?.trim().toLowerCase() === "identity"
    ? []
    : [["accept-encoding", "identity"]];
  return endToEnd(headers, list);
}

/**
 * Appends the end-to-end fields of `headers` to `list` (hop-by-hop ones and those `Connection`
 * names left out) and returns it.
 */
function endToEnd(headers: Headers, list: [string, string][] = []): [string, string][] {
  const named = connectionTokens(headers);
  for (const field of headers) {
    const name = field[0];
    if (!HOP_BY_HOP.has(name) && !named?.has(name)) list.push(field);
  }
  return list;
}

/** The response's headers without the hop-by-hop ones: the same object when it has none. */
function clientResponseHeaders(headers: Headers): Headers {
  const named = connectionTokens(headers);
  let hopByHop = named !== undefined;
  if (!hopByHop) {
    for (const name of HOP_BY_HOP) {
      if (headers.has(name)) {
        hopByHop = true;
        break;
      }
    }
  }
  return hopByHop ? new Headers(endToEnd(headers)) : headers;
}

async function forwardHttp1(
  request: Request,
  where: ParsedTarget,
  options: {
    pool: UpstreamPool;
    onUnreachable: NonNullable<ForwardOptions["onUnreachable"]>;
    tls: TargetTls | undefined;
  },
): Promise<Response> {
  const { pool, onUnreachable, tls } = options;
  let path = where.prefix + requestPath(request.url);
  if (NOT_IN_TARGET.test(path)) {
    path = path.replace(/[^\x21-\x7e]+/g, (run) => encodeURIComponent(run));
  }
  if (request.signal.aborted) return clientGone();
  // The end-to-end fields, the request's length apart (one pass over the headers).
  const fields = endToEnd(request.headers);
  const at = fields.findIndex((field) => field[0] === "content-length");
  const declared = at < 0 ? undefined : fields.splice(at, 1)[0][1];
  // The body's framing follows the body alone: `Deno.serve` has none for GET and HEAD, whatever
  // their Content-Length said, and a length with no body would take the next request's bytes.
  let body = request.body;
  let length: number | undefined;
  if (body !== null) {
    if (declared === undefined) {
      fields.push(["transfer-encoding", "chunked"]);
    } else {
      const only = contentLength(declared); // "5, 5" is 5
      if (only === undefined) {
        body.cancel().catch(() => {});
        return plainText(400, `400 Bad Request: Content-Length ${JSON.stringify(declared)}`);
      }
      length = Number(only);
      fields.push(["content-length", only]);
      if (length === 0) {
        body.cancel().catch(() => {});
        body = null;
      }
    }
  }
  let upstream: UpstreamResponse;
  try {
    upstream = await pool.send({
      hostname: where.hostname,
      port: where.port,
      method: request.method,
      head: requestHead({ method: request.method, target: path, host: where.host, fields }),
      body,
      length,
      signal: request.signal,
      tls,
    });
  } catch (error) {
    if (request.signal.aborted) return clientGone();
    if (error instanceof BadResponseError) return badGateway(error.message);
    if (error instanceof RequestBodyError) {
      return plainText(400, `400 Bad Request: ${error.message}`);
    }
    return await onUnreachable(request, error);
  }
  const status = upstream.status;
  let answer = upstream.body;
  if (status > 599 || NULL_BODY_STATUS.has(status)) {
    if (answer instanceof ReadableStream) answer.cancel().catch(() => {});
    if (status > 599) return badGateway(`the server of this route answered with status ${status}`);
    answer = null;
  }
  try {
    return new Response(answer, {
      status,
      statusText: upstream.statusText,
      headers: upstream.headers,
    });
  } catch (error) {
    // a header or status text a Response cannot carry
    if (answer instanceof ReadableStream) answer.cancel().catch(() => {});
    return badGateway((error as Error).message);
  }
}

async function forwardFetch(
  request: Request,
  url: string,
  client: Deno.HttpClient,
  onUnreachable: NonNullable<ForwardOptions["onUnreachable"]>,
): Promise<Response> {
  // `duplex` is what the fetch standard asks of a streamed body; Deno streams without it.
  const init: RequestInit & { client: Deno.HttpClient; duplex: "half" } = {
    method: request.method,
    headers: upstreamRequestHeaders(request.headers),
    // fetch refuses a GET or HEAD with a body, which a client may still send
    body: request.method === "GET" || request.method === "HEAD" ? null : request.body,
    redirect: "manual",
    signal: request.signal,
    client,
    duplex: "half",
  };
  let upstream: Response;
  try {
    upstream = await fetch(url, init);
  } catch (error) {
    if (request.signal.aborted) return clientGone();
    return await onUnreachable(request, error);
  }
  if (upstream.status > 599) {
    upstream.body?.cancel().catch(() => {});
    return badGateway(`the server of this route answered with status ${upstream.status}`);
  }
  const headers = clientResponseHeaders(upstream.headers);
  const noBody = NULL_BODY_STATUS.has(upstream.status) || request.method === "HEAD";
  if (headers === upstream.headers && !noBody) return upstream;
  if (noBody) upstream.body?.cancel().catch(() => {});
  return new Response(noBody ? null : upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers,
  });
}

/** The response to a client that went away (nginx's "client closed request"): nobody reads it. */
function clientGone(): Response {
  return new Response(null, { status: 499 });
}

/** The client's headers for the upstream handshake: the end-to-end ones, `Host` included. */
function upstreamHandshakeHeaders(headers: Headers): [string, string][] {
  const named = connectionTokens(headers);
  const list: [string, string][] = [];
  for (const field of headers) {
    const name = field[0];
    if (
      !HOP_BY_HOP.has(name) && !WEBSOCKET_HANDSHAKE.has(name) &&
      (named === undefined || !named.has(name))
    ) {
      list.push(field);
    }
  }
  return list;
}

/** The subprotocols a `Sec-WebSocket-Protocol` header asks for, in order. */
function requestedProtocols(header: string | null): string[] {
  if (header === null) return [];
  const protocols: string[] = [];
  for (const protocol of header.split(",")) {
    const trimmed = protocol.trim();
    if (trimmed !== "") protocols.push(trimmed);
  }
  return protocols;
}

/**
 * A client socket with more than this many bytes still to send is not given the target's next
 * message: the target's connection fills and the target waits, as behind traefik.
 */
const HIGH_WATER = 1024 * 1024;
/** How often a relay held back by a slow client looks again, in ms. */
const DRAIN_POLL_MS = 10;
/** A target that leaves more than this many bytes of the client's messages unread is dropped. */
const MAX_UNREAD_BY_TARGET = 16 * 1024 * 1024;

async function forwardWebSocket(
  request: Request,
  url: string,
  options: {
    tls?: TargetTls;
    onUnreachable: NonNullable<ForwardOptions["onUnreachable"]>;
    onActivity: (() => void) | undefined;
  },
): Promise<Response> {
  let opened: { socket: UpstreamSocket } | { refused: number };
  try {
    opened = await openUpstream({
      url,
      headers: upstreamHandshakeHeaders(request.headers),
      protocols: requestedProtocols(request.headers.get("sec-websocket-protocol")),
      tls: options.tls,
      signal: request.signal,
    });
  } catch (error) {
    if (request.signal.aborted) return clientGone();
    return await options.onUnreachable(request, error);
  }
  if ("refused" in opened) {
    // A handshake the target answered without upgrading is not an unreachable target.
    const status = opened.refused;
    return plainText(
      status >= 400 && status <= 599 ? status : 502,
      `the server of this route refused the WebSocket upgrade (${status})`,
    );
  }
  const upstream = opened.socket;
  let upgrade: { socket: WebSocket; response: Response };
  try {
    upgrade = Deno.upgradeWebSocket(request, {
      protocol: upstream.protocol === "" ? undefined : upstream.protocol,
    });
  } catch (error) {
    upstream.abort();
    return plainText(400, `invalid WebSocket request: ${message(error)}`);
  }
  relay(upgrade.socket, upstream, options.onActivity ?? (() => {}));
  options.onActivity?.();
  return upgrade.response;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Relays messages and the close between the client's socket (not yet open) and the target's.
 * The target's messages are read one at a time, while the client takes them (`HIGH_WATER`).
 */
function relay(downstream: WebSocket, upstream: UpstreamSocket, onMessage: () => void): void {
  downstream.binaryType = "arraybuffer";
  const open = () => downstream.readyState === WebSocket.OPEN;
  // Until the target's close or the connection's end; once the client's socket is closing, what
  // the target still sends is read and dropped (the close handshake bounds it).
  async function pump(): Promise<void> {
    while (true) {
      while (open() && downstream.bufferedAmount > HIGH_WATER) {
        await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      }
      const event = await upstream.next();
      if (event === undefined) {
        // The connection ended (or broke the protocol: its close frame is on its way).
        closeDownstream(downstream, { code: 1006, reason: "" });
        return;
      }
      if (event.kind === "close") {
        closeDownstream(downstream, event);
        return;
      }
      if (event.kind === "message" && open()) {
        onMessage();
        downstream.send(event.data);
      }
    }
  }
  downstream.onopen = () => {
    pump().catch(() => {
      upstream.abort();
      if (open()) downstream.close(1011, "the connection to the server of this route failed");
    });
  };
  downstream.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
    onMessage();
    if (upstream.pending > MAX_UNREAD_BY_TARGET) {
      upstream.close(1001, "");
      downstream.close(1011, "the server of this route does not read its messages");
      return;
    }
    upstream.send(event.data);
  };
  downstream.onclose = (event) => {
    // A client may send only 1000 and 3000-4999; 1005 means the close frame had no code.
    if (isClientCloseCode(event.code)) upstream.close(event.code, event.reason);
    else if (event.code === 1005) upstream.close(1005, "");
    else upstream.close(1000, event.reason);
  };
  // A failed socket also fires "close", which closes the other side.
  downstream.onerror = () => {};
}

/** Closes the client's socket as the upstream socket closed. */
function closeDownstream(downstream: WebSocket, event: { code: number; reason: string }): void {
  if (downstream.readyState === WebSocket.CLOSING || downstream.readyState === WebSocket.CLOSED) {
    return;
  }
  // 1005 and 1006 must not be sent: no close frame, a connection lost without one.
  if (event.code === 1005) downstream.close();
  else if (event.code === 1006 || event.code === 1015 || event.code === 0) {
    downstream.close(1011, "the connection to the server of this route was lost");
  } else downstream.close(event.code, event.reason);
}
