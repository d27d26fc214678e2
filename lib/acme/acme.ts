/**
 * Certificates from an ACME server (Let's Encrypt, or any RFC 8555 server) for the public entry
 * point, with the HTTP-01 challenge, through `npm:acme-client` (a maintained RFC 8555 client that
 * runs under Deno's Node compatibility). One certificate for every domain; kept in a private
 * directory (0600 files: the account key, the certificate and its key) and ordered again when it
 * comes within `renewBeforeMs` of its expiry. A failed order is logged in one line and tried again
 * with back-off (1 minute, doubling, at most an hour) while the proxy keeps serving.
 *
 * @module
 */

import * as acme from "acme-client";
import https from "node:https";

/**
 * Where the current certificate is: files in the storage directory.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CertificateFiles } from "./acme.ts";
 * const files: CertificateFiles = {
 *   certFile: "/var/lib/hub/acme/cert-1.pem",
 *   keyFile: "/var/lib/hub/acme/key-1.pem",
 *   notAfter: new Date("2027-01-01T00:00:00Z"),
 * };
 * assert.equal(files.notAfter.getUTCFullYear(), 2027);
 * ```
 */
export interface CertificateFiles {
  /** PEM certificate chain. */
  certFile: string;
  /** PEM private key. */
  keyFile: string;
  /** When the certificate expires. */
  notAfter: Date;
}

/**
 * Options of `startAcme`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AcmeOptions } from "./acme.ts";
 * const options: AcmeOptions = {
 *   directoryUrl: "https://acme-staging-v02.api.letsencrypt.org/directory",
 *   domains: ["hub.example.org"],
 *   storageDir: "/var/lib/hub/acme",
 *   challenges: new Map(),
 *   onCertificate: () => Promise.resolve(),
 * };
 * assert.equal(options.domains.length, 1);
 * ```
 */
export interface AcmeOptions {
  /** The ACME server's directory URL. */
  directoryUrl: string;
  /** Domains of the certificate (the first is its common name). */
  domains: string[];
  /** Contact address of the ACME account. */
  email?: string;
  /** PEM CA certificate(s) to trust for the ACME server's own https (a private server). */
  caCert?: string;
  /** Private directory for the account key and the certificates (created 0700). */
  storageDir: string;
  /** Where HTTP-01 key authorizations are put for the challenge responder, by token. */
  challenges: Map<string, string>;
  /** Called with each certificate: the one found at start, then each new one. */
  onCertificate(files: CertificateFiles): Promise<void>;
  /** Order again this long before expiry, in ms; default 30 days. */
  renewBeforeMs?: number;
  /** First pause after a failed order, in ms (doubling, at most an hour); default 60,000. */
  retryMs?: number;
  /** Receives one line per event (obtained, renewed, failed). */
  log?: (message: string) => void;
}

/**
 * A running certificate manager.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Acme } from "./acme.ts";
 * const acme: Acme = { current: undefined, close: () => Promise.resolve() };
 * assert.equal(acme.current, undefined);
 * ```
 */
export interface Acme {
  /** The certificate in use, once there is one. */
  readonly current: CertificateFiles | undefined;
  /** Stops ordering and renewing (an order under way is left to finish, unused). */
  close(): Promise<void>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** The longest a timer waits (setTimeout's limit is about 24.8 days). */
const MAX_WAIT_MS = 12 * 60 * 60 * 1000;

/**
 * Starts managing the certificate: uses a stored one that covers the domains and is not due for
 * renewal, else orders one now; resolves at once (an order runs in the background).
 *
 * @example Usage
 * ```ts ignore
 * import { startAcme } from "./acme.ts";
 * const challenges = new Map<string, string>();
 * const manager = await startAcme({
 *   directoryUrl: "https://acme-v02.api.letsencrypt.org/directory",
 *   domains: ["hub.example.org"],
 *   email: "admin@example.org",
 *   storageDir: "/var/lib/jupyterhub/routes.toml.acme",
 *   challenges, // answered on /.well-known/acme-challenge/<token>
 *   onCertificate: async (files) => console.log("serving", files.certFile),
 * });
 * await manager.close();
 * ```
 */
export async function startAcme(options: AcmeOptions): Promise<Acme> {
  const log = options.log ?? (() => {});
  const renewBeforeMs = options.renewBeforeMs ?? 30 * DAY_MS;
  const firstRetryMs = options.retryMs ?? 60_000;
  const dir = options.storageDir;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  if (options.caCert) trustAcmeServer(options.caCert);
  const names = options.domains.join(", ");
  let current: CertificateFiles | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let retryMs = firstRetryMs;

  const stored = await readStored(dir);
  if (stored && covers(stored.domains, options.domains)) {
    current = stored.files;
    await options.onCertificate(current);
    log(`acme: using the stored certificate for ${names} (expires ${iso(current.notAfter)})`);
  }

  function schedule(): void {
    if (closed) return;
    const due = current ? current.notAfter.getTime() - renewBeforeMs - Date.now() : 0;
    const wait = Math.max(0, Math.min(due, MAX_WAIT_MS));
    timer = setTimeout(() => {
      timer = undefined;
      if (current && current.notAfter.getTime() - renewBeforeMs > Date.now()) return schedule();
      order().then(
        () => {
          retryMs = firstRetryMs;
          schedule();
        },
        (error) => {
          if (closed) return;
          log(
            `acme: ordering a certificate for ${names} from ${options.directoryUrl} failed: ` +
              `${oneLine(error)}; next attempt in ${Math.round(retryMs / 1000)} s` +
              (current ? " (the current certificate stays in use)" : ""),
          );
          timer = setTimeout(() => {
            timer = undefined;
            schedule();
          }, retryMs);
          retryMs = Math.min(retryMs * 2, 60 * 60 * 1000);
        },
      );
    }, wait);
  }

  async function order(): Promise<void> {
    const { cert, key } = await orderCertificate({
      ...options,
      accountKey: await accountKey(dir),
      challenges: {
        set: (token, keyAuthorization) =>
          Promise.resolve(void options.challenges.set(token, keyAuthorization)),
        delete: (token) => Promise.resolve(void options.challenges.delete(token)),
      },
    });
    if (closed) return;
    const files = await store(dir, cert, key);
    const previous = current;
    current = files;
    await options.onCertificate(files);
    log(
      `acme: ${previous ? "renewed" : "obtained"} the certificate for ${names} ` +
        `(expires ${iso(files.notAfter)})`,
    );
    if (previous && previous.certFile !== files.certFile) {
      await Deno.remove(previous.certFile).catch(() => {});
      await Deno.remove(previous.keyFile).catch(() => {});
    }
  }

  schedule();
  return {
    get current() {
      return current;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      return Promise.resolve();
    },
  };
}

/**
 * Where an order puts and removes the HTTP-01 key authorizations, by token.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChallengeStore } from "./acme.ts";
 * const map = new Map<string, string>();
 * const challenges: ChallengeStore = {
 *   set: (token, keyAuthorization) => Promise.resolve(void map.set(token, keyAuthorization)),
 *   delete: (token) => Promise.resolve(void map.delete(token)),
 * };
 * await challenges.set("t", "t.key");
 * assert.equal(map.get("t"), "t.key");
 * ```
 */
export interface ChallengeStore {
  /** Makes `keyAuthorization` the answer for `token`. */
  set(token: string, keyAuthorization: string): Promise<void>;
  /** Forgets `token`. */
  delete(token: string): Promise<void>;
}

/**
 * Options of `orderCertificate`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OrderOptions } from "./acme.ts";
 * const options: Partial<OrderOptions> = { domains: ["hub.example.org"] };
 * assert.equal(options.domains?.[0], "hub.example.org");
 * ```
 */
export interface OrderOptions {
  /** The ACME server's directory URL. */
  directoryUrl: string;
  /** Domains of the certificate (the first is its common name). */
  domains: string[];
  /** Contact address of the account. */
  email?: string;
  /** The account's private key (PEM). */
  accountKey: string;
  /** Where the challenges' answers go while the order runs. */
  challenges: ChallengeStore;
}

/**
 * Orders one certificate for `domains` with the HTTP-01 challenge: a new private key, a CSR,
 * the order, the challenges answered through `challenges`, the certificate chain.
 *
 * @example Usage
 * ```ts ignore
 * import { orderCertificate } from "./acme.ts";
 * const { cert, key } = await orderCertificate({
 *   directoryUrl: "https://acme-staging-v02.api.letsencrypt.org/directory",
 *   domains: ["hub.example.org"],
 *   accountKey: "-----BEGIN PRIVATE KEY-----...",
 *   challenges: { set: async () => {}, delete: async () => {} },
 * });
 * ```
 */
export async function orderCertificate(
  options: OrderOptions,
): Promise<{ cert: string; key: string }> {
  const client = new acme.Client({
    directoryUrl: options.directoryUrl,
    accountKey: options.accountKey,
  });
  // The account: found by its key (another replica, or an earlier run, made it), else created.
  // (Found through auto(), an account without a contact address would be "updated" with
  // nothing, which servers refuse.)
  try {
    await client.createAccount({ onlyReturnExisting: true });
  } catch {
    await client.createAccount({
      termsOfServiceAgreed: true,
      ...(options.email ? { contact: [`mailto:${options.email}`] } : {}),
    });
  }
  const [key, csr] = await acme.crypto.createCsr({
    commonName: options.domains[0],
    altNames: options.domains,
  });
  const cert = await client.auto({
    csr,
    email: options.email,
    termsOfServiceAgreed: true,
    challengePriority: ["http-01"],
    // The ACME server checks through traefik; a check from here would need public DNS.
    skipChallengeVerification: true,
    challengeCreateFn: (_authz, challenge, keyAuthorization) =>
      options.challenges.set(challenge.token, keyAuthorization),
    challengeRemoveFn: (_authz, challenge) => options.challenges.delete(challenge.token),
  });
  return { cert, key: key.toString() };
}

/**
 * Trusts `caCert` for the ACME server's own https (a private server, e.g. pebble in tests): it
 * applies to every ACME request of this process.
 *
 * @example Usage
 * ```ts ignore
 * import { trustAcmeServer } from "./acme.ts";
 * trustAcmeServer(await Deno.readTextFile("/etc/pebble/ca.pem"));
 * ```
 */
export function trustAcmeServer(caCert: string): void {
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: caCert });
}

/**
 * A new ACME account key (PEM).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { newAccountKey } from "./acme.ts";
 * assert.match(await newAccountKey(), /BEGIN (RSA )?PRIVATE KEY/);
 * ```
 */
export async function newAccountKey(): Promise<string> {
  return (await acme.crypto.createPrivateKey()).toString();
}

/**
 * When a certificate expires and the names it covers.
 *
 * @example Usage
 * ```ts ignore
 * import { certificateDetails } from "./acme.ts";
 * const { notAfter, domains } = certificateDetails(await Deno.readTextFile("cert.pem"));
 * ```
 */
export function certificateDetails(cert: string): { notAfter: Date; domains: string[] } {
  const details = acme.crypto.readCertificateInfo(cert);
  const domains = [details.domains.commonName, ...details.domains.altNames].filter(
    (name): name is string => typeof name === "string" && name !== "",
  );
  return { notAfter: details.notAfter, domains };
}

/**
 * True when the certificate's names include every domain.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { covers } from "./acme.ts";
 * assert.equal(covers(["a.example", "b.example"], ["B.example"]), true);
 * assert.equal(covers(["a.example"], ["b.example"]), false);
 * ```
 */
export function covers(names: string[], domains: string[]): boolean {
  const have = new Set(names.map((name) => name.toLowerCase()));
  return domains.every((domain) => have.has(domain.toLowerCase()));
}

async function accountKey(dir: string): Promise<string> {
  const path = `${dir}/account.key`;
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const key = await newAccountKey();
  await Deno.writeTextFile(path, key, { mode: 0o600 });
  return key;
}

/**
 * Writes a new certificate and key under fresh names (traefik reloads a certificate when its
 * configuration names another file), and records them as the current pair.
 */
async function store(dir: string, cert: string, key: string): Promise<CertificateFiles> {
  const stamp = `${Date.now()}`;
  const certFile = `${dir}/cert-${stamp}.pem`;
  const keyFile = `${dir}/key-${stamp}.pem`;
  await Deno.writeTextFile(keyFile, key, { mode: 0o600 });
  await Deno.writeTextFile(certFile, cert, { mode: 0o600 });
  const tmp = `${dir}/current.json.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify({ certFile, keyFile }), { mode: 0o600 });
  await Deno.rename(tmp, `${dir}/current.json`);
  return { certFile, keyFile, notAfter: certificateDetails(cert).notAfter };
}

/** The stored current certificate and the names it covers, if any can be read. */
async function readStored(
  dir: string,
): Promise<{ files: CertificateFiles; domains: string[] } | undefined> {
  try {
    const { certFile, keyFile } = JSON.parse(await Deno.readTextFile(`${dir}/current.json`));
    const details = certificateDetails(await Deno.readTextFile(certFile));
    await Deno.stat(keyFile);
    return { files: { certFile, keyFile, notAfter: details.notAfter }, domains: details.domains };
  } catch {
    return undefined;
  }
}

/**
 * A date as ISO 8601 without milliseconds, for log lines.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { iso } from "./acme.ts";
 * assert.equal(iso(new Date(0)), "1970-01-01T00:00:00Z");
 * ```
 */
export function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * An error as one short log line.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { oneLine } from "./acme.ts";
 * assert.equal(oneLine(new Error("a\nb")), "a b");
 * ```
 */
export function oneLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).replace(/\s+/g, " ").slice(0, 300);
}
