/**
 * The CA certificate a store's TLS connection trusts (`--redis-ca-file`, `--etcd-ca-file`,
 * `--consul-ca-file`), read once at start.
 *
 * @module
 */

import { StoreError } from "../lib/core/errors.ts";

/**
 * Reads the PEM file `caFile` (none: undefined).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreError } from "../lib/core/errors.ts";
 * import { readCaFile } from "./_ca_file.ts";
 * assert.equal(await readCaFile(undefined, "etcd at http://127.0.0.1:2379"), undefined);
 * await assert.rejects(readCaFile("/nonexistent/ca.pem", "redis at 127.0.0.1:6379"), StoreError);
 * ```
 * @throws {StoreError} naming the store (`where`) and the file when it cannot be read.
 */
export async function readCaFile(
  caFile: string | undefined,
  where: string,
): Promise<string | undefined> {
  if (!caFile) return undefined;
  try {
    return await Deno.readTextFile(caFile);
  } catch (error) {
    throw new StoreError(
      `cannot read the CA certificate for ${where} (${caFile}): ${(error as Error).message}`,
      { cause: error },
    );
  }
}
