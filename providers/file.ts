/**
 * The file provider: the routing table lives in one traefik dynamic-configuration file, TOML or
 * YAML by its extension, that traefik watches. For a single node.
 *
 * Every write goes to a temporary file in the same directory that is renamed over the target,
 * so traefik never reads a half-written file. Concurrent changes are coalesced: while one write
 * is under way, the changes that arrive wait together for the next one.
 *
 * A file no traefik reads (with a fallback, traefik reads its own copy) can keep a journal
 * instead (`FileStoreOptions.journal`): a change is acknowledged once appended to it, and the
 * file is rewritten at most once a second below 1,000 routes, less often above (a millisecond per
 * route, up to 10 s).
 *
 * @module
 */

import { type Coalescer, coalescer } from "../lib/async/coalesce.ts";
import { mergeChanges } from "../lib/core/route_change.ts";
import { runAll } from "../lib/async/run_all.ts";
import { nextTurn } from "../lib/async/next_turn.ts";
import { feedPacer } from "../lib/async/feed_pacer.ts";
import {
  assemble,
  configPieces,
  joinTomlPieces,
  type RenderedPiece,
  renderPiece,
} from "../lib/core/config_document.ts";
import { formatOf, parseConfig } from "../lib/core/config_format.ts";
import { journalEntry, readJournal } from "../lib/core/route_journal.ts";
import { feedStampConfig, type FeedWrite, type FeedWrites } from "../lib/core/feed_stamp.ts";
import { StoreError } from "../lib/core/errors.ts";
import { joinBytes } from "../lib/core/bytes.ts";
import { deepMerge } from "../lib/core/tree.ts";
import { routeParts, routesFromConfig, sentinelConfig } from "../lib/core/route_config.ts";
import { addRuleKeys, shortRuleAllowedFor } from "../lib/core/rule.ts";
import {
  type EntryTree,
  treeBase,
  treeBranch,
  treeCatchAlls,
  treeConfig,
} from "../lib/core/entry_tree.ts";
import type { Mirror, MirrorTarget, Store } from "../lib/core/store.ts";
import type { ConfigTree, Route, RouteChange } from "../lib/core/types.ts";
import type { FeedStartOptions, StoreProvider } from "./provider.ts";

export type { Store } from "../lib/core/store.ts";
export type { ConfigTree, JsonValue, Route, RouteChange, RouteData } from "../lib/core/types.ts";
export type { StoreProvider } from "./provider.ts";

const encoder = new TextEncoder();
// How long rendering a file's routes runs before it lets the event loop run, in ms.
const RENDER_SLICE_MS = 4;
// Bounds of the default time between two rewrites of a journal's file, in ms.
const MIN_COMPACT_MS = 1_000;
const MAX_COMPACT_MS = 10_000;
// Section paths shared by every route's pieces.
const ROUTERS = ["http", "routers"];
const SERVICES = ["http", "services"];
const RECORDS = ["jupyterhub", "routes"];

// A route's rendered pieces: YAML's one per section; TOML's joined into one (its pieces carry
// their whole table path), kept without an array around it.
type RouteText = RenderedPiece | RenderedPiece[];

// A route's rendered pieces on one entry point, in the rule's whole and short forms.
interface Rendered {
  entryPoint: string;
  whole?: RouteText;
  short?: RouteText;
}

/**
 * Options of `fileStore`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileStore, type FileStoreOptions } from "./file.ts";
 * const dir = await Deno.makeTempDir();
 * const options: FileStoreOptions = { path: `${dir}/rules.yaml`, entryPoint: "web" };
 * const store = await fileStore(options);
 * assert.equal(store.entryPoint, "web");
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FileStoreOptions {
  /** Path of the dynamic-configuration file (`*.toml`, `*.yaml` or `*.yml`). */
  path: string;
  /** Name of traefik's public entry point; default `http`. */
  entryPoint?: string;
  /** The servers transport of every route's service (`name@provider`); default none. */
  serversTransport?: string;
  /** The URL traefik reaches a target at (`RouteConfigOptions.targetUrl`); default the target. */
  targetUrl?: (target: string) => string;
  /**
   * Dynamic configuration written into the file with every write, beside the routes (the
   * private API router, TLS certificates, operator extras).
   */
  fixed?: ConfigTree;
  /** Called with a message for each entry of an existing file that could not be read. */
  onSkipped?: (message: string) => void;
  /**
   * Record each route under `jupyterhub.routes` (routespec, target, data), so that the file is
   * the table itself, read back at the next start and shareable with the Python proxy; default
   * true. Without them the file holds only traefik's routers and services (a third smaller, a
   * fifth cheaper for traefik to reload at 10,000 routes): for a file derived from another
   * store (a store-fed traefik), whose routes are not read back from it.
   */
  records?: boolean;
  /**
   * Write traefik's feed stamp (`feedStampConfig`) with the write's number into every write, so
   * that traefik's API tells which write it has applied; default false.
   */
  stamp?: boolean;
  /**
   * Acknowledge a change once it is appended to a journal beside the file (`<path>.journal`),
   * and rewrite the file itself at most every `compactIntervalMs` and at close: a change then
   * costs an append, not a rewrite of the whole table (6 MB at 10,000 routes). For a file no
   * traefik reads (with a fallback, traefik reads its own copy): the file may lag the table by
   * up to that interval while the process runs, and after a crash until the next start, which
   * applies the journal. Default false. A journal found at open is always applied.
   */
  journal?: boolean;
  /**
   * With `journal`, the least time between two rewrites of the file, in ms. Default: a
   * millisecond per route in the table, at least 1 s and at most 10 s: a rewrite costs in
   * proportion to the table (at 10,000 routes, a rewrite a second took a fifth of this process's
   * CPU in a burst of adds at C = 50), and the journal holds everything meanwhile.
   */
  compactIntervalMs?: number;
  /**
   * Give each route that no other route of the table encloses the short rule
   * (`RouteRuleOptions.short`: `PathPrefix("/user/a/")` without `Path("/user/a")`), and the
   * others the whole rule, as the table changes: half the matchers traefik tests a request
   * against at 10,000 routes. Only for a file read by a traefik whose catch-all router goes to
   * this process's fallback (which routes the bare paths), not for a table others read.
   * Default false.
   */
  shortRules?: boolean;
  /**
   * Put each route under the base of a tree of entry points on its branch's entry point, and the
   * branch routers on the public one (`lib/core/entry_tree.ts`), once the table has
   * `EntryTree.minRoutes` routes under one base. Only for a file read by a traefik started with
   * the tree's entry points, whose catch-all router goes to this process's fallback on every one
   * of them. Default none.
   */
  tree?: EntryTree;
}

/**
 * A store backed by a traefik dynamic-configuration file.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FileStore, fileStore } from "./file.ts";
 * const dir = await Deno.makeTempDir();
 * const store: FileStore = await fileStore({ path: `${dir}/rules.toml` });
 * assert.equal(store.writes, 1); // the sentinel and the fixed part, written at open
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FileStore extends Store {
  /** The file's path. */
  readonly path: string;
  /** Number of times the file has been written (for tests and benchmarks). */
  readonly writes: number;
  /** Number of routes in the table. */
  readonly size: number;
  /** Hands `target` the table, then every committed change (see `Store.mirror`). */
  mirror(target: MirrorTarget): Promise<Mirror>;
  /**
   * Reports every write of the file made for a change (its number, as in its stamp, and the
   * routes it holds); with a journal, nothing: the file then follows the table later.
   */
  readonly written: FeedWrites;
  /**
   * Replaces the fixed part (`FileStoreOptions.fixed`) and rewrites the file with it; resolves
   * once written (e.g. a renewed certificate for traefik).
   */
  setFixed(fixed: ConfigTree): Promise<void>;
  /**
   * Writes the file whole again, unchanged but for its stamp, so that traefik loads it again:
   * for a traefik that diverged from it (drift), or a file edited behind the store's back.
   */
  rewrite(): Promise<void>;
}

/**
 * Opens a file store: reads the routes recorded in an existing file (ours or the Python
 * proxy's), then writes the file once so that it holds the sentinel and the fixed part.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileStore } from "./file.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await fileStore({ path: `${dir}/rules.toml` });
 * await store.apply({ set: [{ routespec: "/a/", target: "http://127.0.0.1:9000", data: {} }] });
 * assert.equal((await store.getRoute("/a/"))?.target, "http://127.0.0.1:9000");
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws {ConfigError} when the extension is not .toml, .yaml or .yml.
 * @throws {StoreError} when the existing file cannot be read or parsed (it is left untouched),
 *   or cannot be written.
 */
export async function fileStore(options: FileStoreOptions): Promise<FileStore> {
  const path = options.path;
  const format = formatOf(path);
  const entryPoint = options.entryPoint ?? "http";
  const routeOptions = {
    entryPoint,
    serversTransport: options.serversTransport,
    targetUrl: options.targetUrl,
  };
  const fixed = options.fixed ?? {};
  const records = options.records !== false;
  const stamp = options.stamp === true;
  let routes = new Map<string, Route>();

  let text: string | undefined;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new StoreError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  if (text !== undefined) {
    let existing: ConfigTree;
    try {
      existing = parseConfig(text, format);
    } catch (error) {
      throw new StoreError(
        `${path} is not valid ${format.toUpperCase()} (${(error as Error).message}); ` +
          "fix or remove it, it was left untouched",
        { cause: error },
      );
    }
    const read = routesFromConfig(existing);
    // Copies: strings cut from the parsed text would keep all of it alive (6 MB at 10,000).
    for (const [spec, route] of read.routes) routes.set(spec, structuredClone(route));
    for (const message of read.skipped) options.onSkipped?.(`${path}: skipped ${message}`);
  }
  // Changes acknowledged after the file was last rewritten (a crash, or a stop that could not
  // rewrite it).
  const journalPath = `${path}.journal`;
  let journalText: string | undefined;
  try {
    journalText = await Deno.readTextFile(journalPath);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new StoreError(`cannot read ${journalPath}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  if (journalText !== undefined) {
    const read = readJournal(journalText);
    for (const change of read.changes) applyTo(routes, change);
    for (const message of read.skipped) {
      options.onSkipped?.(`${journalPath}: skipped ${message}`);
    }
  }

  let closed = false;
  let writes = 0;

  // Each route's three pieces are rendered once, when the route is stored; a write streams
  // the cached pieces, so its cost does not include serialising unchanged routes again.
  const renderFixed = (part: ConfigTree) =>
    configPieces(deepMerge(part, sentinelConfig({ entryPoint })))
      .map((piece) => renderPiece(piece, format));
  let fixedPieces = renderFixed(fixed);
  // The fixed part changed since the file was last written whole.
  let fixedChanged = false;
  // With `shortRules`, a route's rule depends on the rest of the table (`shortRuleAllowedFor`,
  // decided at each write), and its pieces are rendered for the form it needs (rarely both).
  const rendered = new WeakMap<Route, Rendered>();
  // Adds a route's pieces to `out`, rendered once per form of its rule (on another entry point,
  // a route that a tree of entry points moves, both forms again).
  function addPieces(
    route: Route,
    form: { short: boolean; entryPoint: string },
    out: RenderedPiece[],
  ): void {
    const { short } = form;
    let entry = rendered.get(route);
    if (entry?.entryPoint !== form.entryPoint) {
      rendered.set(route, entry = { entryPoint: form.entryPoint });
    }
    let text = short ? entry.short : entry.whole;
    if (!text) {
      const parts = routeParts(route, {
        ...routeOptions,
        entryPoint: form.entryPoint,
        shortRule: short,
      });
      const pieces = [
        { path: ROUTERS, name: parts.routerName, value: parts.router },
        { path: SERVICES, name: parts.serviceName, value: parts.service },
        ...(records ? [{ path: RECORDS, name: parts.routerName, value: parts.record }] : []),
      ].map((piece) => renderPiece(piece, format));
      // One text for TOML: a third of the objects and strings (~1 MB less per document at
      // 10,000 routes).
      text = format === "toml" ? joinTomlPieces(pieces) : pieces;
      if (short) entry.short = text;
      else entry.whole = text;
    }
    if (Array.isArray(text)) out.push(...text);
    else out.push(text);
  }

  // The base of the tree in the last write, and its routers rendered.
  let treeAt: string | undefined;
  let treePieces: { base: string; pieces: RenderedPiece[] } | undefined;
  const listeners = new Set<(write: FeedWrite) => void>();
  async function write(table: Map<string, Route>): Promise<void> {
    const pieces = [...fixedPieces];
    if (stamp) {
      for (const piece of configPieces(feedStampConfig({ entryPoint, write: writes + 1 }))) {
        pieces.push(renderPiece(piece, format));
      }
    }
    let keys: Set<string> | undefined;
    if (options.shortRules) {
      keys = new Set();
      for (const route of table.values()) addRuleKeys(keys, route.routespec);
    }
    const tree = options.tree;
    // The tree's base for this table (kept while it holds enough routes), and its routers.
    treeAt = tree &&
      treeBase({ [Symbol.iterator]: () => table.keys() }, {
        minRoutes: tree.minRoutes,
        current: treeAt,
      });
    if (tree && treeAt !== undefined) {
      if (treePieces?.base !== treeAt) {
        const config = deepMerge(
          treeConfig({ entryPoint, base: treeAt, tree }),
          treeCatchAlls(tree),
        );
        treePieces = {
          base: treeAt,
          pieces: configPieces(config).map((piece) => renderPiece(piece, format)),
        };
      }
      pieces.push(...treePieces.pieces);
    }
    // Rendering the routes new since the last write (a second's adds, hundreds of them, in a
    // journal's rewrite) takes tens of ms: the event loop runs between slices of it.
    let slice = performance.now();
    let count = 0;
    for (const route of table.values()) {
      if (++count % 8 === 0 && performance.now() - slice > RENDER_SLICE_MS) {
        await nextTurn();
        slice = performance.now();
      }
      const branch = treeAt === undefined
        ? undefined
        : treeBranch(route.routespec, { base: treeAt, branches: tree!.entryPoints.length });
      addPieces(route, {
        short: keys !== undefined && shortRuleAllowedFor(route.routespec, keys),
        entryPoint: branch === undefined ? entryPoint : tree!.entryPoints[branch],
      }, pieces);
    }
    const tmp = `${path}.${Deno.pid}.tmp`;
    try {
      const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
      try {
        for (const chunk of assemble(pieces, format)) {
          const bytes = encoder.encode(chunk);
          for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
        }
      } finally {
        file.close();
      }
      await Deno.rename(tmp, path);
    } catch (error) {
      await Deno.remove(tmp).catch(() => {});
      throw new StoreError(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
    }
    writes++;
  }

  // Each follower gets the changes in order, in batches of its own: a slow one (a file) never
  // holds up the writes or a quick one (the fallback router).
  const mirrors = new Map<MirrorTarget, Coalescer<RouteChange>>();
  // With a journal: the open journal, its size, and when the file was last rewritten.
  let journal: Deno.FsFile | undefined;
  let journalBytes = 0;
  let compactedAt = 0;
  let compactTimer: ReturnType<typeof setTimeout> | undefined;
  const compactIntervalMs = () =>
    options.compactIntervalMs ?? Math.min(MAX_COMPACT_MS, Math.max(MIN_COMPACT_MS, routes.size));
  // A rewrite of the file under way beside the appends (`startCompaction`), the entries
  // appended since its snapshot, and whether it is done, so that the journal can be cut to them.
  let compacting: Promise<void> | undefined;
  let sinceSnapshot: Uint8Array[] | undefined;
  let trimDue = false;

  async function append(change: RouteChange): Promise<void> {
    const bytes = encoder.encode(journalEntry(change));
    try {
      for (let done = 0; done < bytes.length;) done += await journal!.write(bytes.subarray(done));
    } catch (error) {
      // Cut what was written of the entry, so the next one starts on a line of its own.
      await journal!.truncate(journalBytes).catch(() => {});
      throw new StoreError(`cannot write ${journalPath}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    journalBytes += bytes.length;
    sinceSnapshot?.push(bytes);
  }

  // Rewrites the file with the table while changes go on being appended: a rewrite at 10,000
  // routes (6 MB, and the routes added since the last one to render) took 15-30 ms, up to
  // 150 ms on a busy machine, and every add arriving meanwhile waited for it. The file then
  // holds the table as of the snapshot, and the journal the entries before and after it:
  // entries give whole routes or deletions, so applying again those the file already holds
  // changes nothing, and the file with the whole journal is the table at any moment. Once the
  // file is written, a commit cuts the journal to the entries appended since (`trim`).
  function startCompaction(): void {
    sinceSnapshot = [];
    compactedAt = Date.now();
    compacting = (async () => {
      try {
        await write(new Map(routes));
        trimDue = true;
      } catch (error) {
        sinceSnapshot = undefined;
        skipped(`${path}: cannot rewrite the table: ${(error as Error).message}`);
      } finally {
        compacting = undefined;
        scheduleCompaction();
      }
    })();
  }

  // Reports what could not be done; a reporter that throws is ignored.
  function skipped(message: string): void {
    try {
      options.onSkipped?.(message);
    } catch {
      // ignored
    }
  }

  // Replaces the journal with the entries appended since the last rewrite's snapshot (in a
  // commit: nothing appends meanwhile). The new journal is written and opened under a temporary
  // name, then renamed over the old one: a crash of the process leaves the old journal or the
  // new one, never a part, and a failure at any step leaves the old one in use (still right,
  // only longer, until the next rewrite).
  async function trim(): Promise<void> {
    trimDue = false;
    const rest = joinBytes(sinceSnapshot ?? []);
    sinceSnapshot = undefined;
    const tmp = `${journalPath}.${Deno.pid}.tmp`;
    let next: Deno.FsFile | undefined;
    try {
      await Deno.writeFile(tmp, rest, { mode: 0o600 });
      next = await Deno.open(tmp, { append: true });
      await Deno.rename(tmp, journalPath);
    } catch (error) {
      next?.close();
      await Deno.remove(tmp).catch(() => {});
      skipped(`${path}: cannot shorten ${journalPath}: ${(error as Error).message}`);
      return;
    }
    journal!.close();
    journal = next;
    journalBytes = rest.length;
  }

  // Rewrites the file with the table and empties the journal before the commit goes on (for a
  // new fixed part, and at close).
  async function compact(): Promise<void> {
    await compacting;
    trimDue = false;
    sinceSnapshot = undefined;
    fixedChanged = false;
    await write(routes);
    await journal!.truncate(0);
    journalBytes = 0;
    compactedAt = Date.now();
  }

  function scheduleCompaction(): void {
    // A rewrite under way schedules the next when it ends.
    if (compactTimer !== undefined || compacting || journalBytes === 0 || closed) return;
    const wait = Math.max(0, compactedAt + compactIntervalMs() - Date.now());
    compactTimer = setTimeout(() => {
      compactTimer = undefined;
      // An empty change: its commit compacts, in turn with the appends.
      changes.push({}).catch((error) =>
        skipped(`${path}: cannot rewrite the table: ${(error as Error).message}`)
      );
    }, wait);
  }

  const changes = coalescer<RouteChange>({
    async commit(batch) {
      const change = mergeChanges(batch);
      const empty = !change.set?.length && !change.delete?.length;
      if (journal) {
        if (trimDue) await trim();
        if (
          !compacting && !fixedChanged && journalBytes > 0 &&
          Date.now() - compactedAt >= compactIntervalMs()
        ) startCompaction();
        if (!empty) await append(change);
        // Appended: the table changes in place (no copy of 10,000 routes per change).
        for (const change of batch) applyTo(routes, change);
        if (fixedChanged) await compact();
        scheduleCompaction();
      } else {
        const next = new Map(routes);
        for (const change of batch) applyTo(next, change);
        fixedChanged = false;
        await write(next);
        routes = next;
        for (const listener of listeners) listener({ write: writes, table: next });
      }
      // An empty change (a rewrite's turn, a new fixed part) is nothing to a mirror: passed on,
      // it made traefik's fed copy write itself whole again and traefik reload it.
      if (mirrors.size === 0 || empty) return;
      for (const queue of mirrors.values()) {
        queue.push(change).catch((error) =>
          skipped(`${path}: cannot pass route changes on: ${error.message}`)
        );
      }
    },
  });

  const store: FileStore = {
    provider: "file",
    entryPoint,
    path,
    get writes() {
      return writes;
    },
    get size() {
      return routes.size;
    },
    written: {
      subscribe(listener) {
        listeners.add(listener);
        listener({ write: writes, table: routes });
        return () => listeners.delete(listener);
      },
    },
    getAllRoutes() {
      return Promise.resolve(new Map(routes));
    },
    getRoute(routespec: string) {
      return Promise.resolve(routes.get(routespec));
    },
    apply(change: RouteChange) {
      if (closed) return Promise.reject(new StoreError(`the file store ${path} is closed`));
      return changes.push(change);
    },
    setFixed(next) {
      if (closed) return Promise.reject(new StoreError(`the file store ${path} is closed`));
      fixedPieces = renderFixed(next);
      fixedChanged = true;
      // An empty change: its commit writes the file whole, in turn with the others.
      return changes.push({});
    },
    rewrite() {
      if (closed) return Promise.reject(new StoreError(`the file store ${path} is closed`));
      fixedChanged = true;
      return changes.push({});
    },
    async mirror(target) {
      // The table as it is now, then every commit's changes, in order.
      const queue = coalescer<RouteChange>({
        commit: (batch) => target.apply(mergeChanges(batch)),
      });
      mirrors.set(target, queue);
      await queue.push({ set: [...routes.values()] });
      return {
        async close() {
          mirrors.delete(target);
          await queue.idle();
        },
      };
    },
    async close() {
      closed = true;
      clearTimeout(compactTimer);
      await changes.idle();
      if (journal) {
        // The file holds the whole table again; the journal goes. A finished rewrite with nothing
        // appended since its snapshot already made it so.
        await compacting;
        const current = journalBytes === 0 || (trimDue && sinceSnapshot?.length === 0);
        if (!current) await compact();
        journal.close();
        journal = undefined;
        await Deno.remove(journalPath).catch(() => {});
      }
      await Promise.all([...mirrors.values()].map((queue) => queue.idle()));
      mirrors.clear();
    },
  };
  await write(routes);
  compactedAt = Date.now();
  if (options.journal) {
    try {
      // Emptied (the file now holds what it had), then appended to: every write goes at the end.
      await Deno.writeFile(journalPath, new Uint8Array(), { mode: 0o600 });
      journal = await Deno.open(journalPath, { append: true });
    } catch (error) {
      throw new StoreError(`cannot write ${journalPath}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  } else if (journalText !== undefined) {
    await Deno.remove(journalPath).catch(() => {});
  }
  return store;
}

/**
 * Feeds `options.fed` (the stamped file a traefik started by this process reads) from
 * `store`'s table through a `feedPacer`: resolves once the file holds the whole table; closing
 * it stops following the store, then the pacer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileStore, pacedFeed } from "./file.ts";
 * import { memoryStore } from "./memory.ts";
 * const dir = await Deno.makeTempDir();
 * const store = memoryStore();
 * await store.apply({ set: [{ routespec: "/a/", target: "http://127.0.0.1:9000", data: {} }] });
 * const fed = await fileStore({ path: `${dir}/fed.toml`, entryPoint: "http", records: false, stamp: true });
 * const feed = await pacedFeed(store, { fed, applied: () => Promise.resolve(undefined) });
 * assert.match(await Deno.readTextFile(fed.path), /router__2Fa_2F/);
 * await feed.close();
 * await fed.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws {StoreError} when `store` cannot be followed or the file cannot be written.
 */
export async function pacedFeed(
  store: Store,
  options: FeedStartOptions & { fed: FileStore },
): Promise<Mirror> {
  const { fed, ...start } = options;
  const pacer = feedPacer(fed, { writes: fed.written, ...start });
  try {
    const mirror = await store.mirror!(pacer);
    return {
      async close() {
        await mirror.close();
        await pacer.close();
      },
    };
  } catch (error) {
    await pacer.close();
    throw error;
  }
}

/**
 * The file provider for the registry in `mod.ts`: a file store at `options.path` (default
 * `rules.toml` in the private work directory) holding the routes and the fixed configuration,
 * read by traefik's file provider.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileProvider } from "./file.ts";
 * const workDir = await Deno.makeTempDir();
 * const context = { entryPoint: "http", fixed: {}, workDir, log: () => {}, feed: false };
 * const opened = await fileProvider.open({}, context);
 * assert.deepEqual(opened.providers, { file: { filename: `${workDir}/rules.toml`, watch: true } });
 * await opened.close();
 * await Deno.remove(workDir, { recursive: true });
 * ```
 */
export const fileProvider: StoreProvider<{ path?: string }> = {
  async open(options, context) {
    const path = options.path ?? `${context.workDir}/rules.toml`;
    // traefik reads its own copy (below) when a fallback serves the routes: the table's file
    // need not be rewritten before each change is acknowledged.
    const feeds = context.feed && context.deferFeed === true;
    const store = await fileStore({
      path,
      entryPoint: context.entryPoint,
      serversTransport: context.serversTransport,
      targetUrl: context.targetUrl,
      fixed: context.fixed,
      onSkipped: (message) => context.log(message),
      journal: feeds,
    });
    if (!feeds) {
      return {
        store,
        providers: { file: { filename: path, watch: true } },
        traefikProvider: store.provider,
        setFixed: (fixed) => store.setFixed(fixed),
        repair: () => store.rewrite(),
        close: () => store.close(),
      };
    }
    // traefik reads a private copy that gets the routes only once it runs (a fallback serves
    // them meanwhile): it starts without building every router first. The routes file stays
    // the table, for the next start and for any other reader.
    const closing: (() => Promise<void>)[] = [() => store.close()];
    try {
      const fed = await fileStore({
        path: `${context.workDir}/traefik-routes.toml`,
        entryPoint: context.entryPoint,
        serversTransport: context.serversTransport,
        targetUrl: context.targetUrl,
        fixed: context.fixed,
        records: false,
        stamp: true,
        shortRules: context.shortRules === true,
        tree: context.shortRules === true ? context.tree : undefined,
      });
      closing.unshift(() => fed.close());
      let started: Promise<void> | undefined;
      return {
        store,
        providers: { file: { filename: fed.path, watch: true } },
        traefikProvider: fed.provider,
        feedWrites: fed.written,
        setFixed: async (fixed) => {
          await Promise.all([store.setFixed(fixed), fed.setFixed(fixed)]);
        },
        // The fed copy holds what the table handed it; what traefik lacks goes in again.
        repair: (drift) => fed.apply(drift),
        startFeed: (options) =>
          started ??= pacedFeed(store, { fed, ...options }).then((feed) => {
            closing.unshift(() => feed.close());
          }),
        close: () => runAll(closing),
      };
    } catch (error) {
      await runAll(closing);
      throw error;
    }
  },
};

function applyTo(table: Map<string, Route>, change: RouteChange): void {
  for (const route of change.set ?? []) table.set(route.routespec, route);
  for (const routespec of change.delete ?? []) table.delete(routespec);
}
