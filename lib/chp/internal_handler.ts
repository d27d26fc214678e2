/**
 * The internal HTTP handler that traefik forwards to for `/_chp_healthz`, unmatched requests
 * and error pages. With `errorTarget` (CHP's `--error-target`), pages come from
 * `<errorTarget>/<code>?url=<path>`, as configurable-http-proxy fetches them.
 *
 * @module
 */

import { ACME_CHALLENGE_PATH, ERROR_PAGE_PATH, HEALTHZ_PATH } from "./instance_config.ts";

/**
 * Options of `internalHandler`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { internalHandler, type InternalHandlerOptions } from "./internal_handler.ts";
 * const options: InternalHandlerOptions = { errorTarget: "http://127.0.0.1:8081/hub/error" };
 * const healthz = await internalHandler(options)(new Request("http://127.0.0.1/_chp_healthz"));
 * assert.equal(healthz.status, 200);
 * ```
 */
export interface InternalHandlerOptions {
  /** Base URL of JupyterHub's error pages, e.g. `http://127.0.0.1:8081/hub/error`. */
  errorTarget?: string;
  /** The ACME HTTP-01 key authorization of a token, answered on `ACME_CHALLENGE_PATH<token>`. */
  acmeChallenge?: (token: string) => string | undefined | Promise<string | undefined>;
}

const REASONS: Record<number, string> = {
  404: "Not Found",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * Creates the handler: `/_chp_healthz` answers `{"status": "OK"}`; error pages keep their
 * status and come from `errorTarget` when it answers, else a plain-text page; anything else is
 * a 404 page.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { internalHandler } from "./internal_handler.ts";
 * const handler = internalHandler({});
 * const healthz = await handler(new Request("http://127.0.0.1/_chp_healthz"));
 * assert.deepEqual(await healthz.json(), { status: "OK" });
 * const missing = await handler(new Request("http://127.0.0.1/nope"));
 * assert.equal(missing.status, 404);
 * assert.equal(await missing.text(), "404 Not Found: /nope\n");
 * ```
 */
export function internalHandler(
  options: InternalHandlerOptions,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    if (url.pathname === HEALTHZ_PATH) return Response.json({ status: "OK" });
    if (options.acmeChallenge && url.pathname.startsWith(ACME_CHALLENGE_PATH)) {
      const answer = await options.acmeChallenge(url.pathname.slice(ACME_CHALLENGE_PATH.length));
      if (answer !== undefined) {
        return new Response(answer, { headers: { "content-type": "text/plain" } });
      }
    }
    let code = 404;
    let original = url.pathname + url.search;
    if (url.pathname.startsWith(ERROR_PAGE_PATH + "/")) {
      code = Number(url.pathname.slice(ERROR_PAGE_PATH.length + 1)) || 503;
      const raw = url.searchParams.get("url") ?? "";
      try {
        const parsed = new URL(raw);
        original = parsed.pathname + parsed.search;
      } catch {
        original = raw;
      }
    }
    return await errorPage(code, original, options);
  };
}

/**
 * An error page as configurable-http-proxy serves it: from `<errorTarget>/<code>?url=<path>`
 * when `errorTarget` answers (keeping `code` as the status), else a plain-text page.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorPage } from "./internal_handler.ts";
 * const page = await errorPage(503, "/user/a/", {});
 * assert.equal(page.status, 503);
 * assert.equal(await page.text(), "503 Service Unavailable: /user/a/\n");
 * ```
 */
export async function errorPage(
  code: number,
  original: string,
  options: InternalHandlerOptions = {},
): Promise<Response> {
  if (options.errorTarget) {
    try {
      const page = await fetch(
        `${options.errorTarget.replace(/\/+$/, "")}/${code}?url=${encodeURIComponent(original)}`,
        { signal: AbortSignal.timeout(5_000) },
      );
      const body = await page.arrayBuffer();
      return new Response(body, {
        status: code,
        headers: { "content-type": page.headers.get("content-type") ?? "text/html" },
      });
    } catch {
      // fall through to the plain page
    }
  }
  return new Response(`${code} ${REASONS[code] ?? "Error"}: ${original}\n`, {
    status: code,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
