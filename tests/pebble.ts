/**
 * A real ACME server for tests: Debian's `pebble`, with `pebble-challtestsrv` as its DNS server
 * (every name resolves to 127.0.0.1), on free loopback ports. HTTP-01 validation connects to
 * `httpPort` on 127.0.0.1: point it at the proxy's http entry point.
 *
 * @module
 */

import { freePort, waitFor } from "./helpers.ts";
import type { Pki } from "./pki.ts";

/** A running pebble. */
export interface Pebble {
  /** The ACME directory URL. */
  directoryUrl: string;
  /** The CA of pebble's own https (for `--acme-ca-file`). */
  caFile: string;
  /** The root that signs the certificates pebble issues (changes at every start). */
  issuingRoot(): Promise<string>;
  /** Stops pebble and its DNS server. */
  stop(): Promise<void>;
}

/** True when pebble and pebble-challtestsrv are installed. */
export async function hasPebble(): Promise<boolean> {
  for (const name of ["pebble", "pebble-challtestsrv"]) {
    try {
      await new Deno.Command(name, { args: ["-h"], stdout: "null", stderr: "null" }).output();
    } catch {
      return false;
    }
  }
  return true;
}

/** Options of `startPebble`. */
export interface PebbleOptions {
  /** The port HTTP-01 validation connects to on 127.0.0.1. */
  httpPort: number;
  /** Certificates' lifetime, in seconds; default pebble's (about 5 years). */
  validitySeconds?: number;
  /** pebble's own https certificate: `pki.server`, trusted through `pki.ca`. */
  pki: Pki;
}

/** Starts pebble-challtestsrv (DNS only), then pebble; resolves once pebble's directory answers. */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dns = freePort();
  const challtestsrv = new Deno.Command("pebble-challtestsrv", {
    args: [
      "-defaultIPv4",
      "127.0.0.1",
      "-defaultIPv6",
      "",
      "-dns01",
      `127.0.0.1:${dns}`,
      "-http01",
      "",
      "-https01",
      "",
      "-tlsalpn01",
      "",
      "-management",
      `127.0.0.1:${freePort()}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const listen = freePort();
  const management = freePort();
  const config = `${options.pki.dir}/pebble.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listen}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: options.pki.server.cert,
        privateKey: options.pki.server.key,
        httpPort: options.httpPort,
        tlsPort: freePort(),
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
      },
    }),
  );
  const pebble = new Deno.Command("pebble", {
    args: ["-config", config, "-dnsserver", `127.0.0.1:${dns}`],
    // No random sleeps before validation, no random nonce rejections.
    env: { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(options.pki.ca)] });
  const stop = async () => {
    client.close();
    for (const child of [pebble, challtestsrv]) {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      await child.status;
    }
  };
  const directoryUrl = `https://127.0.0.1:${listen}/dir`;
  try {
    await waitFor(async () => {
      const response = await fetch(directoryUrl, { client });
      await response.body?.cancel();
      return response.ok;
    }, "pebble");
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    directoryUrl,
    caFile: options.pki.ca,
    async issuingRoot() {
      const response = await fetch(`https://127.0.0.1:${management}/roots/0`, { client });
      return await response.text();
    },
    stop,
  };
}
