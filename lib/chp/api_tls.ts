/**
 * The REST API behind traefik, for API clients that must present a certificate
 * (`--api-ssl-request-cert`): Deno's servers cannot verify client certificates, traefik can. traefik
 * listens on the API's address with an entry point of its own, whose one TCP router terminates
 * TLS with the API's certificate, requires a client certificate signed by `--api-ssl-ca`, and
 * passes the decrypted bytes to this process's API on a private loopback port. A TCP router,
 * not an HTTP one: traefik picks an HTTP router's TLS options by the name the client asks for,
 * and a client that connects by IP address (JupyterHub's `https://127.0.0.1:8001`) names none.
 *
 * @module
 */

import type { ConfigTree } from "../core/types.ts";

/**
 * Name of traefik's entry point, TCP router, service and TLS options of the REST API.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { API_TLS_NAME } from "./api_tls.ts";
 * assert.equal(API_TLS_NAME, "jupyterhub-api");
 * ```
 */
export const API_TLS_NAME = "jupyterhub-api";

/**
 * Options of `apiTlsConfig`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ApiTlsConfigOptions } from "./api_tls.ts";
 * const options: ApiTlsConfigOptions = {
 *   address: "127.0.0.1:8001",
 *   backend: "127.0.0.1:40123",
 *   certFile: "/ssl/api.crt",
 *   keyFile: "/ssl/api.key",
 *   clientCaFile: "/ssl/api-ca.crt",
 * };
 * assert.equal(options.address, "127.0.0.1:8001");
 * ```
 */
export interface ApiTlsConfigOptions {
  /** The API's public address, `host:port` as traefik takes it. */
  address: string;
  /** This process's private API listener, `127.0.0.1:port`. */
  backend: string;
  /** The API's certificate (`--api-ssl-cert`). */
  certFile: string;
  /** The API's key (`--api-ssl-key`). */
  keyFile: string;
  /** The CA that signs clients' certificates (`--api-ssl-ca`). */
  clientCaFile: string;
}

/**
 * traefik's static and dynamic configuration that puts the REST API behind its certificate check.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { API_TLS_NAME, apiTlsConfig } from "./api_tls.ts";
 * const { staticConfig, dynamicConfig } = apiTlsConfig({
 *   address: "127.0.0.1:8001",
 *   backend: "127.0.0.1:40123",
 *   certFile: "/ssl/api.crt",
 *   keyFile: "/ssl/api.key",
 *   clientCaFile: "/ssl/api-ca.crt",
 * });
 * const entryPoints = staticConfig.entryPoints as Record<string, { address: string }>;
 * assert.equal(entryPoints[API_TLS_NAME].address, "127.0.0.1:8001");
 * const tls = dynamicConfig.tls as { options: Record<string, { clientAuth: unknown }> };
 * assert.deepEqual(tls.options[API_TLS_NAME].clientAuth, {
 *   caFiles: ["/ssl/api-ca.crt"],
 *   clientAuthType: "RequireAndVerifyClientCert",
 * });
 * ```
 */
export function apiTlsConfig(
  options: ApiTlsConfigOptions,
): { staticConfig: ConfigTree; dynamicConfig: ConfigTree } {
  return {
    staticConfig: {
      entryPoints: {
        [API_TLS_NAME]: {
          address: options.address,
          // JupyterHub restarts the proxy on the same ports: stop promptly.
          transport: { lifeCycle: { graceTimeOut: "1s" } },
        },
      },
    },
    dynamicConfig: {
      tcp: {
        routers: {
          [API_TLS_NAME]: {
            entryPoints: [API_TLS_NAME],
            rule: "HostSNI(`*`)",
            service: API_TLS_NAME,
            tls: { options: API_TLS_NAME },
          },
        },
        services: {
          [API_TLS_NAME]: { loadBalancer: { servers: [{ address: options.backend }] } },
        },
      },
      tls: {
        // Picked by name, or by the IP address the client connected to (JupyterHub's internal
        // certificates name 127.0.0.1); the public certificate stays traefik's default.
        certificates: [{ certFile: options.certFile, keyFile: options.keyFile }],
        options: {
          [API_TLS_NAME]: {
            minVersion: "VersionTLS12",
            clientAuth: {
              caFiles: [options.clientCaFile],
              clientAuthType: "RequireAndVerifyClientCert",
            },
            // The private listener speaks HTTP/1.1 (the bytes pass through unchanged).
            alpnProtocols: ["http/1.1"],
          },
        },
      },
    },
  };
}
