/**
 * The fallback's own answers (404, 400, 502, 503 pages): plain UTF-8 text ending in a newline.
 *
 * @module
 */

/**
 * A plain-text response: `text` and a newline, with `status`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { plainText } from "./_plain_text.ts";
 * const response = plainText(502, "502 Bad Gateway: no answer");
 * assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
 * assert.equal(await response.text(), "502 Bad Gateway: no answer\n");
 * ```
 */
export function plainText(status: number, text: string): Response {
  return new Response(text + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/**
 * The 502 page: the target's answer cannot be passed on, or the target cannot be used at all.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { badGateway } from "./_plain_text.ts";
 * assert.equal(await badGateway("no answer").text(), "502 Bad Gateway: no answer\n");
 * ```
 */
export function badGateway(reason: string): Response {
  return plainText(502, `502 Bad Gateway: ${reason}`);
}
