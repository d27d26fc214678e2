/**
 * A minimal client of traefik's API (basicAuth, JSON bodies).
 *
 * @module
 */

/** Connection details of traefik's API. */
export interface TraefikApiOptions {
  /** Base URL of the API entry point, e.g. `http://127.0.0.1:8099`. */
  url: string;
  /** basicAuth user name, if the API is protected. */
  username?: string;
  /** basicAuth password. */
  password?: string;
}

/** A minimal client of traefik's API. */
export interface TraefikApi {
  /** Base URL. */
  readonly url: string;
  /** GETs `path` (e.g. `/api/rawdata`); resolves to the status and the parsed JSON body. */
  get(path: string): Promise<{ status: number; body: unknown }>;
}

/**
 * Creates a client of traefik's API.
 *
 * @example
 * ```ts
 * import { traefikApi } from "./api.ts";
 * const api = traefikApi({ url: "http://127.0.0.1:8099", username: "u", password: "p" });
 * // const { status, body } = await api.get("/api/rawdata");
 * ```
 */
export function traefikApi(options: TraefikApiOptions): TraefikApi {
  const base = options.url.replace(/\/+$/, "");
  const headers: HeadersInit = {};
  if (options.username !== undefined || options.password !== undefined) {
    headers.authorization = "Basic " + btoa(`${options.username ?? ""}:${options.password ?? ""}`);
  }
  return {
    url: base,
    async get(path: string) {
      const response = await fetch(base + path, { headers, signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body };
    },
  };
}
