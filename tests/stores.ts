/**
 * Real redis-server and etcd instances for tests, on free loopback ports, always stopped by
 * their `stop()`.
 *
 * @module
 */

import { fromBase64 } from "../lib/core/base64.ts";
import { freePort, waitFor } from "./helpers.ts";

const BIN = new URL("../.tools/bin/", import.meta.url).pathname;

/** A running store server. */
export interface StoreServer {
  /** URL for the proxy (`redis://...` or `http://...`). */
  url: string;
  /** Port. */
  port: number;
  /** Process id. */
  pid: number;
  /** Stops the server (SIGTERM, then waits). */
  stop(): Promise<void>;
  /** Stops and starts it again on the same port and data. */
  restart(): Promise<void>;
}

async function bin(name: string): Promise<string> {
  try {
    await Deno.stat(BIN + name);
    return BIN + name;
  } catch {
    return name;
  }
}

function spawn(command: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(command, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .spawn();
}

async function drain(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // gone
  }
  await child.stderr.cancel().catch(() => {});
  await child.status;
}

/** A server process that can be stopped and started again with the same arguments. */
function serverHandle(
  command: string,
  args: string[],
  dir: string,
  up: () => Promise<void>,
  info: { url: string; port: number },
): StoreServer {
  let child = spawn(command, args);
  return {
    ...info,
    get pid() {
      return child.pid;
    },
    async stop() {
      await drain(child);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    async restart() {
      await drain(child);
      child = spawn(command, args);
      await up();
    },
  };
}

/** Options of `startRedis`. */
export interface RedisOptions {
  /** `requirepass` (the default user's password). */
  password?: string;
  /** An ACL user `name` with `password` and all permissions except CONFIG when `noConfig`. */
  user?: { name: string; password: string; noConfig?: boolean };
  /** Start with this notify-keyspace-events value instead of none. */
  keyspaceEvents?: string;
  /** Serve TLS only, with this certificate (the URL is then `rediss://`). */
  tls?: { cert: string; key: string; ca: string };
}

/** Starts redis-server with append-only persistence in a temporary directory. */
export async function startRedis(options: RedisOptions = {}): Promise<StoreServer> {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-redis-" });
  const port = freePort();
  const args = [
    ...(options.tls
      ? [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--tls-cert-file",
        options.tls.cert,
        "--tls-key-file",
        options.tls.key,
        "--tls-ca-cert-file",
        options.tls.ca,
        "--tls-auth-clients",
        "no",
      ]
      : ["--port", String(port)]),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--protected-mode",
    "no",
  ];
  if (options.password) args.push("--requirepass", options.password);
  if (options.keyspaceEvents !== undefined) {
    args.push("--notify-keyspace-events", options.keyspaceEvents);
  }
  if (options.user) {
    const { name, password, noConfig } = options.user;
    await Deno.writeTextFile(
      `${dir}/users.acl`,
      `user default on nopass ~* &* +@all\n` +
        `user ${name} on >${password} ~* &* +@all${noConfig ? " -config" : ""}\n`,
    );
    args.push("--aclfile", `${dir}/users.acl`);
  }
  const up = () =>
    waitFor(
      async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
        return true;
      },
      "redis-server",
      10_000,
    );
  const auth = options.user
    ? `${options.user.name}:${options.user.password}@`
    : options.password
    ? `:${options.password}@`
    : "";
  const server = serverHandle(await bin("redis-server"), args, dir, up, {
    url: `${options.tls ? "rediss" : "redis"}://${auth}127.0.0.1:${port}`,
    port,
  });
  await up();
  return server;
}

/** Options of `startEtcd`. */
export interface EtcdOptions {
  /** Enable auth with user `root` and this password. */
  rootPassword?: string;
  /** Serve clients over https with this certificate (the URL is then `https://`). */
  tls?: { cert: string; key: string; ca: string };
}

/** Starts a single-member etcd in a temporary directory. */
export async function startEtcd(options: EtcdOptions = {}): Promise<StoreServer> {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-etcd-" });
  const port = freePort();
  const peer = freePort();
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const args = [
    ...(options.tls ? ["--cert-file", options.tls.cert, "--key-file", options.tls.key] : []),
    "--name",
    "test",
    "--data-dir",
    `${dir}/data`,
    "--listen-client-urls",
    url,
    "--advertise-client-urls",
    url,
    "--listen-peer-urls",
    `http://127.0.0.1:${peer}`,
    "--initial-advertise-peer-urls",
    `http://127.0.0.1:${peer}`,
    "--initial-cluster",
    `test=http://127.0.0.1:${peer}`,
    "--log-level",
    "error",
  ];
  const client = options.tls
    ? Deno.createHttpClient({ caCerts: [await Deno.readTextFile(options.tls.ca)] })
    : undefined;
  const up = () =>
    waitFor(
      async () => {
        const response = await fetch(`${url}/health`, { client });
        const body = await response.json();
        return body.health === "true" || body.health === true;
      },
      "etcd",
      20_000,
    );
  const server = serverHandle(await bin("etcd"), args, dir, up, { url, port });
  const stop = server.stop;
  server.stop = async () => {
    await stop();
    client?.close();
  };
  await up();
  if (options.rootPassword) {
    await etcdctl(url, ["user", "add", `root:${options.rootPassword}`]);
    await etcdctl(url, ["auth", "enable"]);
  }
  return server;
}

/** Options of `startConsul`. */
export interface ConsulOptions {
  /** Turn ACLs on (default deny) with this management token. */
  managementToken?: string;
}

/** True when `.tools/bin/consul` (or consul on PATH) runs. */
export async function hasConsul(): Promise<boolean> {
  try {
    return (await new Deno.Command(await bin("consul"), { args: ["version"] }).output()).success;
  } catch {
    return false;
  }
}

/**
 * Starts a single consul server on free loopback ports, with its data in a temporary
 * directory (not `-dev`, whose data a restart would lose).
 */
export async function startConsul(options: ConsulOptions = {}): Promise<StoreServer> {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-consul-" });
  const port = freePort();
  const ports = {
    dns: -1,
    grpc: -1,
    grpc_tls: -1,
    serf_lan: freePort(),
    serf_wan: -1,
    server: freePort(),
  };
  const acl = options.managementToken
    ? `acl {\n  enabled = true\n  default_policy = "deny"\n  tokens {\n    initial_management = "${options.managementToken}"\n  }\n}\n`
    : "";
  await Deno.writeTextFile(
    `${dir}/config.hcl`,
    `server = true\nbootstrap_expect = 1\nui_config { enabled = false }\n` +
      `log_level = "error"\ndisable_update_check = true\n` +
      `performance { raft_multiplier = 1 }\n` +
      `ports {\n  http = ${port}\n  https = -1\n  dns = ${ports.dns}\n  grpc = ${ports.grpc}\n` +
      `  grpc_tls = ${ports.grpc_tls}\n  serf_lan = ${ports.serf_lan}\n` +
      `  serf_wan = ${ports.serf_wan}\n  server = ${ports.server}\n}\n` + acl,
  );
  const url = `http://127.0.0.1:${port}`;
  const args = [
    "agent",
    "-config-file",
    `${dir}/config.hcl`,
    "-data-dir",
    `${dir}/data`,
    "-bind",
    "127.0.0.1",
    "-client",
    "127.0.0.1",
    "-node",
    "test",
  ];
  const headers: Record<string, string> = options.managementToken
    ? { "x-consul-token": options.managementToken }
    : {};
  // Up once it has a leader and takes a write.
  const up = () =>
    waitFor(
      async () => {
        const response = await fetch(`${url}/v1/kv/jupyterhub-test-up`, {
          method: "PUT",
          headers,
          body: "1",
        });
        await response.body?.cancel();
        if (!response.ok) return false;
        // Gone again: tests that list every key see only their own.
        const gone = await fetch(`${url}/v1/kv/jupyterhub-test-up`, { method: "DELETE", headers });
        await gone.body?.cancel();
        return gone.ok;
      },
      "consul",
      30_000,
    );
  const server = serverHandle(await bin("consul"), args, dir, up, { url, port });
  await up();
  return server;
}

/** Every key and value in a consul's KV store (for tests that look behind the store). */
export async function consulPairs(url: string, token?: string): Promise<Map<string, string>> {
  const response = await fetch(`${url}/v1/kv/?recurse=true`, {
    headers: token ? { "x-consul-token": token } : {},
  });
  if (response.status === 404) {
    await response.body?.cancel();
    return new Map();
  }
  const entries = await response.json() as { Key: string; Value: string | null }[];
  return new Map(entries.map((entry) => [entry.Key, fromBase64(entry.Value)]));
}

/** Writes `value` at `key` in a consul's KV store, behind the proxy's back. */
export async function consulPut(url: string, key: string, value: string): Promise<void> {
  const response = await fetch(`${url}/v1/kv/${key}`, { method: "PUT", body: value });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`consul PUT ${key}: ${response.status}`);
}

// etcdctl against one endpoint, its output; throws with its error output when it fails.
async function etcdctl(url: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(await bin("etcdctl"), {
    args: ["--endpoints", url, ...args],
    env: { ETCDCTL_API: "3" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  if (out.code !== 0) {
    throw new Error(`etcdctl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Every key and value in an etcd (through etcdctl: a client that is not the proxy's). */
export async function etcdPairs(url: string): Promise<Map<string, string>> {
  const found = JSON.parse(await etcdctl(url, ["get", "", "--from-key", "-w", "json"])) as {
    kvs?: { key: string; value?: string }[];
  };
  return new Map((found.kvs ?? []).map((kv) => [fromBase64(kv.key), fromBase64(kv.value)]));
}

/** Writes `value` at `key` in an etcd, behind the proxy's back (through etcdctl). */
export async function etcdPut(url: string, key: string, value: string): Promise<void> {
  await etcdctl(url, ["put", "--", key], value);
}
