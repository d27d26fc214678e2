/**
 * A traefik of a test's own that reads a redis store itself (traefik's redis provider), with
 * its API open on a private loopback entry point: what an operator runs beside the Python proxy,
 * or beside a library user's store.
 *
 * @module
 */

import {
  startTraefik,
  staticConfig,
  type TraefikApi,
  traefikApi,
  type TraefikProcess,
} from "../lib/traefik/mod.ts";
import { freePort } from "./helpers.ts";
import { stringifyConfig } from "../lib/core/config_format.ts";
import type { ConfigTree } from "../lib/core/types.ts";

/** A running traefik on a redis store. */
export interface RedisTraefik {
  /** Its public URL, `http://127.0.0.1:<port>`. */
  publicUrl: string;
  /** Its API's `host:port`. */
  apiAddress: string;
  /** A client of its API. */
  api: TraefikApi;
  /** Stops traefik and removes its files. */
  stop(): Promise<void>;
}

/**
 * Starts traefik on the redis at `redisPort` (or on `options.providers`); ready once `readyPath`
 * answers through its API.
 */
export async function startRedisTraefik(
  redisPort: number,
  readyPath = "/api/overview",
  options: { dynamic?: ConfigTree; providers?: ConfigTree } = {},
): Promise<RedisTraefik> {
  const workDir = await Deno.makeTempDir({ prefix: "jhtp-traefik-" });
  // An operator's own dynamic configuration, beside the store.
  const file = options.dynamic
    ? { file: { filename: `${workDir}/dynamic.toml`, watch: true } }
    : {};
  if (options.dynamic) {
    await Deno.writeTextFile(`${workDir}/dynamic.toml`, stringifyConfig(options.dynamic, "toml"));
  }
  const publicPort = freePort();
  const apiAddress = `127.0.0.1:${freePort()}`;
  const api = traefikApi({ url: `http://${apiAddress}` });
  let traefik: TraefikProcess;
  try {
    traefik = await startTraefik({
      staticConfig: staticConfig({
        publicAddress: `127.0.0.1:${publicPort}`,
        apiAddress: `127.0.0.1:${freePort()}`,
        providers: {
          ...options.providers ??
            { redis: { endpoints: [`127.0.0.1:${redisPort}`], rootKey: "traefik" } },
          ...file,
        },
        extra: { api: { insecure: true }, entryPoints: { traefik: { address: apiAddress } } },
      }),
      workDir,
      api,
      readyPath,
    });
  } catch (error) {
    await Deno.remove(workDir, { recursive: true });
    throw error;
  }
  return {
    publicUrl: `http://127.0.0.1:${publicPort}`,
    apiAddress,
    api,
    async stop() {
      await traefik.stop();
      await Deno.remove(workDir, { recursive: true });
    },
  };
}
