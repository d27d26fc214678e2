/**
 * The basicAuth hash of traefik's API password. traefik checks it on every API request, and
 * route confirmation polls the API often, so the hash's cost is paid continuously.
 *
 * @module
 */

import bcrypt from "bcryptjs";

/** Options of `apiPasswordHash`. */
export interface ApiPasswordHashOptions {
  /**
   * The password was generated here from a CSPRNG (at least 120 random bits). Then `{SHA}` is
   * used: a slow hash only protects guessable passwords, and this one cannot be guessed, while
   * bcrypt would cost traefik about 1.6 ms of CPU per API request.
   */
  generated: boolean;
}

/**
 * Hashes the API password for traefik's basicAuth: `{SHA}` for generated passwords, bcrypt
 * (cost 4) for passwords an operator chose.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { apiPasswordHash } from "./api_password.ts";
 * assert.match(await apiPasswordHash("operator-chosen", { generated: false }), /^\$2b\$04\$/);
 * assert.match(await apiPasswordHash("f".repeat(32), { generated: true }), /^\{SHA\}/);
 * ```
 */
export async function apiPasswordHash(
  password: string,
  options: ApiPasswordHashOptions,
): Promise<string> {
  if (!options.generated) return bcrypt.hashSync(password, 4);
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(password));
  return "{SHA}" + btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/**
 * A new random API password (128 bits, hex).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateApiPassword } from "./api_password.ts";
 * assert.match(generateApiPassword(), /^[0-9a-f]{32}$/);
 * ```
 */
export function generateApiPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
