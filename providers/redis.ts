/**
 * The redis provider (recommended for more than one node): routes as keys under `traefik/` and
 * `jupyterhub/`, read by traefik's redis provider. Each batch of route changes is one
 * MULTI/EXEC, or, for new and changed routes the watched copy knows, one script that writes
 * them only if redis still holds their records as the copy does; reads take one round trip (a
 * server-side script). `notify-keyspace-events`,
 * which traefik's watch needs, is checked and re-armed after every (re)connect.
 *
 * @module
 */

import { readCaFile } from "./_ca_file.ts";
import { StoreError } from "../lib/core/errors.ts";
import { RECORD_FIELDS, RECORD_KEYS } from "../lib/core/kv_layout.ts";
import type { KvDiff } from "../lib/core/kv.ts";
import type { ConfigTree } from "../lib/core/types.ts";
import { type RedisClient, redisClient, RespError, type RespValue } from "./_redis_client.ts";
import { type RedisWatch, watchRedis } from "./_redis_watch.ts";
import { openSharedStore } from "./_shared_store.ts";
import {
  type GuardedWrite,
  type KvClient,
  kvLayout,
  type KvStore,
  kvStore,
  type KvStoreOptions,
} from "./kv_store.ts";
import type { StoreProvider } from "./provider.ts";

export type { Store } from "../lib/core/store.ts";
export type { ConfigTree, JsonValue, Route, RouteChange, RouteData } from "../lib/core/types.ts";
export type { KvStore, KvStoreOptions, Mirror, SharedValues, VersionedValue } from "./kv_store.ts";
export type { FeedStartOptions, OpenedStore, StoreContext, StoreProvider } from "./provider.ts";

/**
 * Options of `redisStore`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RedisStoreOptions, redisTarget } from "./redis.ts";
 * const options: RedisStoreOptions = { url: "redis://127.0.0.1:6380", db: 1 };
 * assert.equal(redisTarget(options).db, 1);
 * ```
 */
export interface RedisStoreOptions extends KvStoreOptions {
  /** `redis://[user:pass@]host:port[/db]` or `rediss://...`; default `redis://127.0.0.1:6379`. */
  url?: string;
  /** ACL user name (overrides the URL's). */
  username?: string;
  /** Password (overrides the URL's). */
  password?: string;
  /** Database number (overrides the URL's); default 0. */
  db?: number;
  /** PEM file of the authority that signs the server's certificate (`rediss://`). */
  caFile?: string;
  /** How long the first connection may take, in ms; default 5,000. */
  connectTimeoutMs?: number;
  /** Receives connection events (lost, reconnected, re-armed). */
  log?: (message: string) => void;
}

// Lua: key, value, key, value... for the keys that hold a string, read with MGET in chunks.
const MGET_PAIRS = `
local function mget_pairs(keys)
  local out = {}
  for i = 1, #keys, 500 do
    local chunk = {}
    for j = i, math.min(i + 499, #keys) do chunk[#chunk + 1] = keys[j] end
    local values = redis.call('MGET', unpack(chunk))
    for j = 1, #chunk do
      if values[j] then
        out[#out + 1] = chunk[j]
        out[#out + 1] = values[j]
      end
    end
  end
  return out
end
`;

// Every string key matching the glob in ARGV[1], with its value.
const READ_PREFIX = `${MGET_PAIRS}
return mget_pairs(redis.call('KEYS', ARGV[1]))
`;

// RECORD_FIELDS as a Lua set: { ["routespec"] = true, ... }.
const LUA_RECORD_FIELDS = `{ ${
  RECORD_FIELDS.map((field) => `[${JSON.stringify(field)}] = true`).join(", ")
} }`;

// The fields of every record under ARGV[1] that a route needs: RECORD_FIELDS, and the data/...
// keys only of records without data_json.
const READ_RECORD_FIELDS = `${MGET_PAIRS}
local base = ARGV[1]
local keys = redis.call('KEYS', ARGV[2])
local wanted, typed, datakeys = {}, {}, {}
local fields = ${LUA_RECORD_FIELDS}
for _, key in ipairs(keys) do
  local rest = string.sub(key, #base + 1)
  local slash = string.find(rest, '/', 1, true)
  if slash then
    local record, field = string.sub(rest, 1, slash - 1), string.sub(rest, slash + 1)
    if fields[field] then
      wanted[#wanted + 1] = key
      if field == 'data_json' then typed[record] = true end
    elseif string.sub(field, 1, 5) == 'data/' then
      datakeys[#datakeys + 1] = { record, key }
    end
  end
end
for _, pair in ipairs(datakeys) do
  if not typed[pair[1]] then wanted[#wanted + 1] = pair[2] end
end
return mget_pairs(wanted)
`;

// The keys of the records ARGV[1], ARGV[3]... read by name (RECORD_KEYS): no listing of the
// keyspace, except for the data/... keys (glob in ARGV[2], ARGV[4]...) of records that have a
// routespec and no data_json (the Python proxy's).
const READ_RECORDS = `${MGET_PAIRS}
local names = { ${RECORD_KEYS.map((field) => JSON.stringify(field)).join(", ")} }
local wanted = {}
for i = 1, #ARGV, 2 do
  for _, name in ipairs(names) do wanted[#wanted + 1] = ARGV[i] .. '/' .. name end
end
local out = mget_pairs(wanted)
local found = {}
for i = 1, #out, 2 do found[out[i]] = true end
for i = 1, #ARGV, 2 do
  if found[ARGV[i] .. '/routespec'] and not found[ARGV[i] .. '/data_json'] then
    local more = mget_pairs(redis.call('KEYS', ARGV[i + 1]))
    for j = 1, #more do out[#out + 1] = more[j] end
  end
end
return out
`;

function glob(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, (c) => "\\" + c) + "*";
}

/**
 * Connection details derived from the options, for traefik's redis provider too.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RedisTarget, redisTarget } from "./redis.ts";
 * const target: RedisTarget = redisTarget({ url: "rediss://127.0.0.1" });
 * assert.equal(target.tls, true);
 * ```
 */
export interface RedisTarget {
  /** `host:port`. */
  endpoint: string;
  /** TLS (`rediss://`). */
  tls: boolean;
  /** ACL user. */
  username?: string;
  /** Password. */
  password?: string;
  /** Database number. */
  db: number;
}

/**
 * Parses the redis options into a target.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { redisTarget } from "./redis.ts";
 * assert.deepEqual(redisTarget({ url: "redis://u:p@127.0.0.1:6380/2" }), {
 *   endpoint: "127.0.0.1:6380",
 *   tls: false,
 *   username: "u",
 *   password: "p",
 *   db: 2,
 * });
 * ```
 * @throws {StoreError} for a URL that is not redis:// or rediss://.
 */
export function redisTarget(options: RedisStoreOptions): RedisTarget {
  let url: URL;
  try {
    url = new URL(options.url ?? "redis://127.0.0.1:6379");
  } catch {
    throw new StoreError(`invalid redis URL ${JSON.stringify(options.url)}`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new StoreError(`redis URL ${options.url} must start with redis:// or rediss://`);
  }
  const db = options.db ?? (Number(url.pathname.slice(1)) || 0);
  return {
    endpoint: `${url.hostname}:${url.port || 6379}`,
    tls: url.protocol === "rediss:",
    username: options.username ?? (url.username ? decodeURIComponent(url.username) : undefined),
    password: options.password ?? (url.password ? decodeURIComponent(url.password) : undefined),
    db,
  };
}

/**
 * traefik's static `providers.redis` section for the same target and prefix.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { redisProviderConfig } from "./redis.ts";
 * assert.deepEqual(redisProviderConfig({ url: "redis://127.0.0.1:6379" }), {
 *   endpoints: ["127.0.0.1:6379"],
 *   rootKey: "traefik",
 *   db: 0,
 * });
 * ```
 * @throws {StoreError} for a URL that is not redis:// or rediss://.
 */
export function redisProviderConfig(options: RedisStoreOptions): ConfigTree {
  const target = redisTarget(options);
  const config: ConfigTree = {
    endpoints: [target.endpoint],
    rootKey: kvLayout(options).traefikPrefix,
    db: target.db,
  };
  if (target.username) config.username = target.username;
  if (target.password) config.password = target.password;
  if (target.tls) config.tls = options.caFile ? { ca: options.caFile } : {};
  return config;
}

/** Records written by one script of `commitUnchanged`. */
const SCRIPT_RECORDS = 256;

// A write of records as the watched copy knows them: only if every checked key holds what the
// copy says. ARGV: the watch's channel and its begin and end markers (published around the
// writes, see _redis_watch.ts), then the checks (key, then '' for absent or '=' and the
// value), the deletions, the writes (key, value), each list after its length. 1 if written.
const WRITE_IF_UNCHANGED = `
local i = 4
local checks = tonumber(ARGV[i]); i = i + 1
for _ = 1, checks do
  local have = redis.call('GET', ARGV[i])
  local want = ARGV[i + 1]
  if want == '' then
    if have then return 0 end
  elseif have ~= string.sub(want, 2) then
    return 0
  end
  i = i + 2
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
-- Writes first, deletions after, none after a failure (redis out of memory refuses a SET
-- before anything was written, unless memory runs out in the middle).
local failed
local function run(...)
  if failed then return end
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then failed = reply end
end
local deletions = tonumber(ARGV[i]); i = i + 1
local first = i
i = i + deletions
local writes = tonumber(ARGV[i]); i = i + 1
for _ = 1, writes do
  run('SET', ARGV[i], ARGV[i + 1]); i = i + 2
end
for d = first, first + deletions - 1 do run('DEL', ARGV[d]) end
-- Published even after a failed write, so that the watch's frame closes.
redis.call('PUBLISH', ARGV[1], ARGV[3])
if failed then return failed end
return 1
`;

/** Sets (ARGV[3] = 1) or deletes KEYS[1] if it is absent (ARGV[1] = 0) or equals ARGV[2]. */
const COMPARE_AND_SET = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if ARGV[3] == '1' then redis.call('SET', KEYS[1], ARGV[4]) else redis.call('DEL', KEYS[1]) end
return 1
`;

/**
 * Connects to redis, checks `notify-keyspace-events`, and opens a route store on it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreError } from "../lib/core/errors.ts";
 * import { redisStore } from "./redis.ts";
 * // With redis on 127.0.0.1:6379:
 * //   const store = await redisStore({ url: "redis://127.0.0.1:6379" });
 * //   await store.close();
 * // Without a server, opening fails with a StoreError saying what to check:
 * const url = "redis://127.0.0.1:1"; // nothing listens there
 * await assert.rejects(redisStore({ url, connectTimeoutMs: 1_000 }), StoreError);
 * ```
 * @throws {StoreError} when redis is unreachable, refuses the credentials, or forbids
 *   setting `notify-keyspace-events` while it is not set.
 */
export async function redisStore(options: RedisStoreOptions = {}): Promise<KvStore> {
  const target = redisTarget(options);
  const log = options.log ?? (() => {});
  const where = `redis at ${target.endpoint}`;
  const [host, port] = [
    target.endpoint.replace(/:\d+$/, ""),
    Number(target.endpoint.split(":").pop()),
  ];
  let lastError = "";
  let connected = false;
  if (options.caFile && !target.tls) {
    throw new StoreError(
      `a CA certificate (${options.caFile}) was given for ${where}, which is not TLS: ` +
        "use a rediss:// URL, or leave the CA out",
    );
  }
  const caCert = await readCaFile(options.caFile, where);
  const client = redisClient({
    hostname: host,
    port,
    tls: target.tls,
    caCerts: caCert ? [caCert] : undefined,
    username: target.username,
    password: target.password,
    db: target.db,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
  });
  client.on("error", (error: Error) => {
    if (error.message !== lastError) log(`${where}: ${error.message}`);
    lastError = error.message;
  });
  client.on("ready", () => {
    if (connected) log(`${where}: reconnected`);
    connected = true;
    armKeyspaceEvents().catch((error) => log(`${where}: ${(error as Error).message}`));
  });

  async function armKeyspaceEvents(): Promise<void> {
    let current: string;
    try {
      const reply = await client.send(["CONFIG", "GET", "notify-keyspace-events"]);
      current = Array.isArray(reply) ? String(reply[1] ?? "") : "";
    } catch (error) {
      throw new StoreError(
        `${where} does not let this proxy read notify-keyspace-events ` +
          `(${(error as Error).message}); traefik needs it set to KEA: set it in redis.conf ` +
          "or allow +config|get and +config|set for this user",
      );
    }
    const has = (flag: string) => current.includes(flag);
    if (has("K") && has("E") && (has("A") || ["g", "$", "x", "e"].every(has))) return;
    try {
      await client.send(["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
      log(`${where}: set notify-keyspace-events to KEA for traefik's watch`);
    } catch (error) {
      throw new StoreError(
        `${where} forbids CONFIG SET notify-keyspace-events (${(error as Error).message}) and ` +
          `it is ${JSON.stringify(current)}; traefik would never see route changes: set ` +
          "notify-keyspace-events KEA in redis.conf or allow +config|set for this user",
      );
    }
  }

  try {
    await client.connect();
    await client.send(["PING"]);
    await armKeyspaceEvents();
  } catch (error) {
    client.destroy();
    if (error instanceof StoreError) throw error;
    throw new StoreError(
      `cannot use ${where}: ${(error as Error).message || lastError}; check that redis runs ` +
        "there and that the username and password are right",
      { cause: error },
    );
  }

  // Runs a script that returns key, value, key, value...
  async function evalPairs(script: string, args: string[]): Promise<Map<string, string>> {
    const flat = await evalScript(client, script, [], args) as string[];
    const pairs = new Map<string, string>();
    for (let i = 0; i < flat.length; i += 2) pairs.set(flat[i], flat[i + 1]);
    return pairs;
  }

  async function writeIfUnchanged(records: GuardedWrite[]): Promise<boolean[]> {
    const none = records.map(() => false);
    const checks: string[] = [];
    for (const { guarded, known } of records) {
      const data = `${guarded}data_json`;
      if (!known.has(data) && [...known.keys()].some((key) => key.startsWith(`${guarded}data/`))) {
        return none;
      }
      for (const field of RECORD_FIELDS) {
        const value = known.get(`${guarded}${field}`);
        checks.push(`${guarded}${field}`, value === undefined ? "" : `=${value}`);
      }
    }
    const groups = records.map((record) => record.diff);
    const marked = watching?.mark(groups);
    if (!marked) return none; // the watch is down
    const deletions = groups.flatMap((group) => group.delete);
    const writes = groups.flatMap((group) => [...group.set].flat());
    let written = false;
    try {
      written = Number(
        await evalScript(client, WRITE_IF_UNCHANGED, [], [
          marked.channel,
          marked.begin,
          marked.end,
          String(checks.length / 2),
          ...checks,
          String(deletions.length),
          ...deletions,
          String(writes.length / 2),
          ...writes,
        ]),
      ) === 1;
    } finally {
      marked.settle(written);
    }
    return records.map(() => written);
  }

  let watching: RedisWatch | undefined;
  const kv: KvClient = {
    provider: "redis",
    getPrefix: (prefix: string) => evalPairs(READ_PREFIX, [glob(prefix)]),
    getRecordFields: (base: string) => evalPairs(READ_RECORD_FIELDS, [base, glob(base)]),
    getRecords: (records: string[]) =>
      evalPairs(READ_RECORDS, records.flatMap((record) => [record, glob(`${record}/data/`)])),
    async commit(groups: KvDiff[]) {
      const commands: string[][] = [["MULTI"]];
      const marked = watching?.mark(groups);
      if (marked) commands.push(["PUBLISH", marked.channel, marked.begin]);
      for (const group of groups) {
        if (group.delete.length > 0) commands.push(["DEL", ...group.delete]);
        for (const [key, value] of group.set) commands.push(["SET", key, value]);
      }
      if (marked) commands.push(["PUBLISH", marked.channel, marked.end]);
      commands.push(["EXEC"]);
      try {
        const replies = await client.pipeline(commands);
        checkExec(replies[replies.length - 1]);
        marked?.settle(true);
      } catch (error) {
        marked?.settle(false);
        throw error;
      }
    },
    // Compares each record's fields (RECORD_FIELDS) with the copy's: this proxy writes a
    // record's data/... keys with its data_json, so they change with it. A script with a record
    // the copy holds without data_json (the Python proxy's) writes none: its records are read
    // first instead. One script per
    // `SCRIPT_RECORDS` records (a call's arguments must stay a few thousand), each all or none.
    async commitUnchanged(records) {
      const done: boolean[] = [];
      for (let i = 0; i < records.length; i += SCRIPT_RECORDS) {
        done.push(...await writeIfUnchanged(records.slice(i, i + SCRIPT_RECORDS)));
      }
      return done;
    },
    async getValue(key) {
      const value = await client.send(["GET", key]) as string | null;
      // The value is its own version: compare-and-set compares it whole.
      return value === null ? undefined : { value, version: value };
    },
    async compareAndSet(key, version, value) {
      const done = await evalScript(client, COMPARE_AND_SET, [key], [
        version === undefined ? "0" : "1",
        version ?? "",
        value === null ? "0" : "1",
        value ?? "",
      ]);
      return Number(done) === 1;
    },
    async watch(prefix, sink) {
      watching = await watchRedis(client, {
        prefix,
        pattern: glob(prefix),
        sink,
        db: target.db,
        log: (m) => log(`${where}: ${m}`),
      });
      return watching;
    },
    async close() {
      // quit() waits for a connection that may never come back: only ask a live server.
      await client.quit();
    },
  };
  try {
    return await kvStore(kv, { log, ...options });
  } catch (error) {
    client.destroy();
    throw error;
  }
}

/**
 * The redis provider for the registry in `mod.ts`: a redis store, read by traefik's redis
 * provider, and a private file for this process's own configuration.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreError } from "../lib/core/errors.ts";
 * import { redisProvider } from "./redis.ts";
 * const context = { entryPoint: "http", fixed: {}, workDir: "/nonexistent", log: () => {}, feed: false };
 * const url = "redis://127.0.0.1:1"; // nothing listens there
 * await assert.rejects(redisProvider.open({ url, connectTimeoutMs: 1_000 }, context), StoreError);
 * ```
 */
export const redisProvider: StoreProvider<RedisStoreOptions> = {
  open: (options, context) =>
    openSharedStore(
      () =>
        redisStore({
          ...options,
          entryPoint: context.entryPoint,
          log: context.log,
          serversTransport: context.serversTransport,
        }),
      redisProviderConfig(options),
      context,
    ),
};

// The SHA-1 of each script, for EVALSHA (redis keeps scripts by it).
const scriptShas = new Map<string, Promise<string>>();

// Runs a Lua script by its SHA-1, sending the script itself only when redis does not have it
// (a restarted or flushed server).
async function evalScript(
  client: RedisClient,
  script: string,
  keys: string[],
  args: string[],
): Promise<RespValue> {
  let sha = scriptShas.get(script);
  if (!sha) {
    sha = crypto.subtle.digest("SHA-1", new TextEncoder().encode(script)).then((digest) =>
      [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("")
    );
    scriptShas.set(script, sha);
  }
  const rest = [String(keys.length), ...keys, ...args];
  try {
    return await client.send(["EVALSHA", await sha, ...rest]);
  } catch (error) {
    if (!(error instanceof RespError) || error.code !== "NOSCRIPT") throw error;
    return await client.send(["EVAL", script, ...rest]);
  }
}

// EXEC's reply: every command's reply, or nil (aborted) or an error (a command was refused).
function checkExec(reply: RespValue): void {
  if (reply instanceof RespError) throw reply;
  if (reply === null) throw new Error("redis aborted the transaction");
  const refused = Array.isArray(reply) && reply.find((value) => value instanceof RespError);
  if (refused) throw refused;
}
