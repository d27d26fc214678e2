/**
 * consul's HTTP API, the part the consul store uses: prefix reads, transactions, blocking queries.
 * Plain `fetch`: no client library. The ACL token goes in the `X-Consul-Token` header and is never
 * part of a message.
 *
 * @module
 */

import { fromBase64 } from "../lib/core/base64.ts";

/**
 * One KV entry as consul returns it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConsulEntry } from "./_consul_http.ts";
 * const entry: ConsulEntry = { Key: "traefik/a", Value: btoa("1"), ModifyIndex: 7 };
 * assert.equal(atob(entry.Value!), "1");
 * ```
 */
export interface ConsulEntry {
  /** The key. */
  Key: string;
  /** The value, base64; null for an empty one. */
  Value: string | null;
  /** The raft index of the entry's last change. */
  ModifyIndex: number;
}

/**
 * A listing of a prefix, and consul's index for it (for the next blocking query).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConsulListing } from "./_consul_http.ts";
 * const listing: ConsulListing = { entries: [], index: 12 };
 * assert.equal(listing.index, 12);
 * ```
 */
export interface ConsulListing {
  /** The entries under the prefix (none: an empty list). */
  entries: ConsulEntry[];
  /** `X-Consul-Index`. */
  index: number;
}

/**
 * One operation of a transaction (`PUT /v1/txn`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConsulTxnOp } from "./_consul_http.ts";
 * const op: ConsulTxnOp = { KV: { Verb: "delete", Key: "traefik/a" } };
 * assert.equal(op.KV.Verb, "delete");
 * ```
 */
export interface ConsulTxnOp {
  /** A KV operation: set with a base64 value, or delete. */
  KV: { Verb: "set"; Key: string; Value: string } | { Verb: "delete"; Key: string };
}

/**
 * A consul HTTP API answer that was not a success, with consul's own words.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConsulHttpError } from "./_consul_http.ts";
 * const error = new ConsulHttpError(403, "ACL not found", "read traefik/");
 * assert.equal(error.status, 403);
 * assert.match(error.message, /403/);
 * ```
 */
export class ConsulHttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** Creates the error for `what`, answered with `status` and `body`. */
  constructor(status: number, body: string, what: string) {
    super(`${what}: consul answered ${status}${body ? ` (${body.trim().slice(0, 200)})` : ""}`);
    this.name = "ConsulHttpError";
    this.status = status;
  }
}

/**
 * Options of `consulHttp`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConsulHttpOptions } from "./_consul_http.ts";
 * const options: ConsulHttpOptions = { url: "http://127.0.0.1:8500", token: "t" };
 * assert.equal(options.url, "http://127.0.0.1:8500");
 * ```
 */
export interface ConsulHttpOptions {
  /** Base URL, `http://host:port` or `https://...`. */
  url: string;
  /** ACL token; default none. */
  token?: string;
  /** PEM CA certificate for an https URL. */
  caCert?: string;
}

/**
 * The calls of the consul store.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ConsulHttp, consulHttp } from "./_consul_http.ts";
 * const http: ConsulHttp = consulHttp({ url: "http://127.0.0.1:1" }); // nothing listens there
 * await assert.rejects(http.list("traefik/"));
 * http.close();
 * ```
 */
export interface ConsulHttp {
  /**
   * Every entry under `prefix`. With `wait`, a blocking query: answers once the prefix's index
   * passes `wait.index` (or after `wait.seconds`), or rejects when `wait.signal` aborts.
   */
  list(
    prefix: string,
    wait?: { index: number; seconds: number; signal?: AbortSignal },
  ): Promise<ConsulListing>;
  /** consul's current index of `prefix`, cheaply (its top-level key names only). */
  index(prefix: string): Promise<number>;
  /**
   * Applies the operations in one transaction: all or none. Resolves to the largest
   * `ModifyIndex` of the entries it set: the transaction's raft index, unless every set left its
   * value as it was (consul then keeps the entry's older index); undefined when it only deleted
   * (consul then answers without one).
   */
  txn(ops: ConsulTxnOp[]): Promise<number | undefined>;
  /** One key's value and ModifyIndex, or undefined. */
  get(key: string): Promise<{ value: string; index: number } | undefined>;
  /**
   * Sets (null: deletes) `key` only if its ModifyIndex is still `index` (0: only if absent);
   * true when done.
   */
  cas(key: string, index: number, value: string | null): Promise<boolean>;
  /** Releases the HTTP client. */
  close(): void;
}

/**
 * Creates the calls over `fetch`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { consulHttp } from "./_consul_http.ts";
 * const http = consulHttp({ url: "http://127.0.0.1:1/" });
 * await assert.rejects(http.index("jupyterhub/"));
 * http.close();
 * ```
 */
export function consulHttp(options: ConsulHttpOptions): ConsulHttp {
  const base = options.url.replace(/\/+$/, "");
  const client = options.caCert ? Deno.createHttpClient({ caCerts: [options.caCert] }) : undefined;
  const headers: Record<string, string> = options.token ? { "x-consul-token": options.token } : {};

  async function call(
    what: string,
    path: string,
    init: RequestInit = {},
  ): Promise<{ body: string; index: number; status: number }> {
    const response = await fetch(`${base}${path}`, {
      ...init,
      headers: { ...headers, ...init.headers as Record<string, string> },
      ...(client ? { client } : {}),
    });
    const body = await response.text();
    if (!response.ok && response.status !== 404) {
      throw new ConsulHttpError(response.status, body, what);
    }
    return {
      body,
      index: Number(response.headers.get("x-consul-index") ?? 0),
      status: response.status,
    };
  }

  const kvPath = (prefix: string) =>
    `/v1/kv/${prefix.split("/").map(encodeURIComponent).join("/")}`;

  return {
    async list(prefix, wait) {
      const query = wait ? `&index=${wait.index}&wait=${wait.seconds}s` : "";
      const { body, index, status } = await call(
        `read ${prefix}`,
        `${kvPath(prefix)}?recurse=true${query}`,
        wait?.signal ? { signal: wait.signal } : {},
      );
      return { entries: status === 404 ? [] : JSON.parse(body) as ConsulEntry[], index };
    },
    async index(prefix) {
      return (await call(`read ${prefix}`, `${kvPath(prefix)}?keys=true&separator=/`)).index;
    },
    async txn(ops) {
      const response = await fetch(`${base}/v1/txn`, {
        method: "PUT",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(ops),
        ...(client ? { client } : {}),
      });
      const body = await response.text();
      if (!response.ok) throw new ConsulHttpError(response.status, body, "write a transaction");
      const results = (JSON.parse(body) as { Results?: { KV?: { ModifyIndex?: number } }[] })
        .Results ?? [];
      let index: number | undefined;
      for (const result of results) {
        const at = result.KV?.ModifyIndex;
        if (typeof at === "number" && (index === undefined || at > index)) index = at;
      }
      return index;
    },
    async get(key) {
      const { body, status } = await call(`read ${key}`, kvPath(key));
      if (status === 404) return undefined;
      const [entry] = JSON.parse(body) as ConsulEntry[];
      return { value: fromBase64(entry.Value), index: entry.ModifyIndex };
    },
    async cas(key, index, value) {
      const { body } = await call(`write ${key}`, `${kvPath(key)}?cas=${index}`, {
        method: value === null ? "DELETE" : "PUT",
        ...(value === null ? {} : { body: value }),
      });
      return body.trim() === "true";
    },
    close() {
      client?.close();
    },
  };
}
