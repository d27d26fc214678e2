/**
 * ACME for several replicas on one shared store (redis, etcd, consul): one certificate for the
 * whole deployment, kept in the store; one replica at a time orders or renews it, holding a lease
 * in the store (compare-and-set, with an expiry, so a dead holder is replaced); the HTTP-01
 * challenge's answer is in the store too, so whichever replica's traefik the ACME server reaches
 * answers it. Every replica polls the store and hands traefik each new certificate through files
 * of its own (0600, in a private directory).
 *
 * @module
 */

import {
  certificateDetails,
  type CertificateFiles,
  covers,
  iso,
  newAccountKey,
  oneLine,
  orderCertificate,
  trustAcmeServer,
} from "./acme.ts";

/**
 * The part of a shared store this needs (`SharedValues` of `providers/kv_store.ts`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SharedValueStore } from "./shared.ts";
 * const values: SharedValueStore = {
 *   get: () => Promise.resolve(undefined),
 *   compareAndSet: () => Promise.resolve(true),
 * };
 * assert.equal(await values.get("acme/lease"), undefined);
 * ```
 */
export interface SharedValueStore {
  /** The value of `key` and its version, or undefined. */
  get(key: string): Promise<{ value: string; version: string } | undefined>;
  /** Sets (null: deletes) `key` only if its version is still `version` (undefined: absent). */
  compareAndSet(key: string, version: string | undefined, value: string | null): Promise<boolean>;
}

/**
 * Options of `startSharedAcme`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SharedAcmeOptions } from "./shared.ts";
 * const options: Partial<SharedAcmeOptions> = { leaseMs: 600_000 };
 * assert.equal(options.leaseMs, 600_000);
 * ```
 */
export interface SharedAcmeOptions {
  /** The ACME server's directory URL. */
  directoryUrl: string;
  /** Domains of the certificate. */
  domains: string[];
  /** Contact address of the account. */
  email?: string;
  /** PEM CA to trust for the ACME server's own https. */
  caCert?: string;
  /** The shared store's values. */
  values: SharedValueStore;
  /** This replica's name in the lease (unique). */
  holder: string;
  /** Private directory for the files traefik reads (created 0700). */
  localDir: string;
  /** Called with each certificate this replica should serve. */
  onCertificate(files: CertificateFiles): Promise<void>;
  /** Order again this long before expiry, in ms; default 30 days. */
  renewBeforeMs?: number;
  /** How long a lease holds without renewal, in ms; default 10 minutes. */
  leaseMs?: number;
  /** How often the store is looked at, in ms; default 10,000. */
  pollMs?: number;
  /** First pause after a failed order, in ms (doubling, at most an hour); default 60,000. */
  retryMs?: number;
  /** Receives one line per event. */
  log?: (message: string) => void;
}

/**
 * The store's keys (below the shared prefix).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ACME_KEYS } from "./shared.ts";
 * assert.equal(ACME_KEYS.challenge("abc"), "acme/challenge/abc");
 * ```
 */
export const ACME_KEYS = {
  /** JSON `{ cert, key }` of the deployment's certificate. */
  certificate: "acme/certificate",
  /** JSON `{ holder, until }`: who may order now. */
  lease: "acme/lease",
  /** The account's private key (PEM), shared so that every replica is the same account. */
  account: "acme/account",
  /** The key authorization of an HTTP-01 token. */
  challenge: (token: string) => `acme/challenge/${token}`,
};

/** A token as ACME servers make them (base64url); anything else is never looked up. */
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

/**
 * The answer to an HTTP-01 challenge from the store, for the challenge responder.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { sharedChallengeAnswer } from "./shared.ts";
 * const answer = sharedChallengeAnswer({
 *   get: (key) => Promise.resolve({ value: `${key}!`, version: "1" }),
 *   compareAndSet: () => Promise.resolve(true),
 * });
 * assert.equal(await answer("abcdefghijklmnop"), "acme/challenge/abcdefghijklmnop!");
 * assert.equal(await answer("../lease"), undefined);
 * ```
 */
export function sharedChallengeAnswer(
  values: SharedValueStore,
): (token: string) => Promise<string | undefined> {
  return async (token) => {
    if (!TOKEN.test(token)) return undefined;
    return (await values.get(ACME_KEYS.challenge(token)))?.value;
  };
}

/**
 * Starts this replica's part: serving the deployment's certificate, and ordering it when it is
 * missing or due and the lease is free. Resolves at once.
 *
 * @example Usage
 * ```ts ignore
 * import { startSharedAcme } from "./shared.ts";
 * const manager = await startSharedAcme({ ...options, values: store.values!, holder: "node-a" });
 * await manager.close();
 * ```
 */
export async function startSharedAcme(
  options: SharedAcmeOptions,
): Promise<{ readonly current: CertificateFiles | undefined; close(): Promise<void> }> {
  const log = options.log ?? (() => {});
  const values = options.values;
  const renewBeforeMs = options.renewBeforeMs ?? 30 * 24 * 60 * 60 * 1000;
  const leaseMs = options.leaseMs ?? 10 * 60 * 1000;
  const pollMs = options.pollMs ?? 10_000;
  const firstRetryMs = options.retryMs ?? 60_000;
  const names = options.domains.join(", ");
  if (options.caCert) trustAcmeServer(options.caCert);
  await Deno.mkdir(options.localDir, { recursive: true, mode: 0o700 });

  let current: CertificateFiles | undefined;
  let applied: string | undefined; // version of the stored certificate in use
  let retryMs = firstRetryMs;
  let retryAt = 0;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();

  /** The stored certificate, applied here when it is new. */
  async function follow(): Promise<{ notAfter: Date; domains: string[] } | undefined> {
    const stored = await values.get(ACME_KEYS.certificate);
    if (!stored) return undefined;
    const { cert, key } = JSON.parse(stored.value) as { cert: string; key: string };
    const details = certificateDetails(cert);
    if (stored.version !== applied && covers(details.domains, options.domains)) {
      const stamp = `${Date.now()}`;
      const files = {
        certFile: `${options.localDir}/cert-${stamp}.pem`,
        keyFile: `${options.localDir}/key-${stamp}.pem`,
        notAfter: details.notAfter,
      };
      await Deno.writeTextFile(files.keyFile, key, { mode: 0o600 });
      await Deno.writeTextFile(files.certFile, cert, { mode: 0o600 });
      const previous = current;
      await options.onCertificate(files);
      current = files;
      applied = stored.version;
      log(`acme: serving the shared certificate for ${names} (expires ${iso(details.notAfter)})`);
      if (previous) {
        await Deno.remove(previous.certFile).catch(() => {});
        await Deno.remove(previous.keyFile).catch(() => {});
      }
    }
    return details;
  }

  /** Takes (or extends) the lease; true when this replica holds it. */
  async function lease(): Promise<boolean> {
    const held = await values.get(ACME_KEYS.lease);
    if (held) {
      const { holder, until } = JSON.parse(held.value) as { holder: string; until: number };
      if (holder !== options.holder && until > Date.now()) return false;
    }
    const mine = JSON.stringify({ holder: options.holder, until: Date.now() + leaseMs });
    return await values.compareAndSet(ACME_KEYS.lease, held?.version, mine);
  }

  async function release(): Promise<void> {
    const held = await values.get(ACME_KEYS.lease);
    if (held && (JSON.parse(held.value) as { holder: string }).holder === options.holder) {
      await values.compareAndSet(ACME_KEYS.lease, held.version, null);
    }
  }

  async function accountKey(): Promise<string> {
    const stored = await values.get(ACME_KEYS.account);
    if (stored) return stored.value;
    const key = await newAccountKey();
    if (await values.compareAndSet(ACME_KEYS.account, undefined, key)) return key;
    return (await values.get(ACME_KEYS.account))!.value; // another replica was first
  }

  async function order(): Promise<void> {
    const { cert, key } = await orderCertificate({
      directoryUrl: options.directoryUrl,
      domains: options.domains,
      email: options.email,
      accountKey: await accountKey(),
      challenges: {
        async set(token, keyAuthorization) {
          const key = ACME_KEYS.challenge(token);
          const old = await values.get(key);
          await values.compareAndSet(key, old?.version, keyAuthorization);
        },
        async delete(token) {
          const key = ACME_KEYS.challenge(token);
          const old = await values.get(key);
          if (old) await values.compareAndSet(key, old.version, null);
        },
      },
    });
    const old = await values.get(ACME_KEYS.certificate);
    if (
      !await values.compareAndSet(
        ACME_KEYS.certificate,
        old?.version,
        JSON.stringify({ cert, key }),
      )
    ) {
      throw new Error("the stored certificate changed under the lease");
    }
    log(
      `acme: ${old ? "renewed" : "obtained"} the shared certificate for ${names} ` +
        `(expires ${iso(certificateDetails(cert).notAfter)})`,
    );
  }

  async function tick(): Promise<void> {
    try {
      const details = await follow();
      const due = !details || !covers(details.domains, options.domains) ||
        details.notAfter.getTime() - renewBeforeMs <= Date.now();
      if (!due || Date.now() < retryAt || closed) return;
      if (!await lease()) return; // another replica orders
      try {
        await order();
        retryMs = firstRetryMs;
        retryAt = 0;
        await follow();
      } catch (error) {
        log(
          `acme: ordering a certificate for ${names} from ${options.directoryUrl} failed: ` +
            `${oneLine(error)}; next attempt in ${Math.round(retryMs / 1000)} s` +
            (current ? " (the current certificate stays in use)" : ""),
        );
        retryAt = Date.now() + retryMs;
        retryMs = Math.min(retryMs * 2, 60 * 60 * 1000);
      } finally {
        await release().catch(() => {});
      }
    } catch (error) {
      log(`acme: cannot use the shared store: ${oneLine(error)}; trying again`);
    }
  }

  const loop = () => {
    if (closed) return;
    running = tick().finally(() => {
      if (!closed) timer = setTimeout(loop, pollMs);
    });
  };
  loop();
  return {
    get current() {
      return current;
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      // An order under way is not waited for long: its result is not used any more.
      let late: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([running, new Promise((resolve) => late = setTimeout(resolve, 2_000))]);
      clearTimeout(late);
    },
  };
}
