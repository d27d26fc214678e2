/**
 * A tree of traefik entry points for a large table. traefik tries a request against its routers
 * one by one, so at 10,000 routes every request costs it a scan of thousands of rules (all of
 * them for one that reaches the catch-all: a new user's first requests, the hub's pages). With
 * the tree, the public entry point holds one router per branch, `PathPrefix("<base><c>")` for
 * the first characters `c` of the user names it takes, that sends the request on to a loopback
 * entry point of traefik's own holding only that branch's user routers (and a catch-all to the
 * fallback). The base is the parent that most routes share (`/user/` under JupyterHub's base
 * URL). Measured in `bench/results/entry_tree.md`.
 *
 * Every route whose routespec starts with `<base><c>` goes to `c`'s branch, so a request the
 * branch router sends there finds the longest matching route among them, or none (then the
 * branch's catch-all sends it to the fallback, which knows every route). Routes outside the
 * base or whose name starts with another character stay on the public entry point.
 *
 * @module
 */

import { FALLBACK_PRIORITY, goString, WEBSOCKET_PRIORITY } from "./rule.ts";
import { isPlainRoutespec } from "./routespec.ts";
import type { ConfigTree } from "./types.ts";

/** The first characters of user names that go to a branch; others stay on the public one. */
export const TREE_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Priority of the branch routers on the public entry point: above every route's router, below
 * the router that sends websocket handshakes to the fallback.
 */
export const TREE_PRIORITY: number = WEBSOCKET_PRIORITY - 1;

/** Prefix of the names of the branch routers, their services and the branches' entry points. */
export const TREE_ROUTER_PREFIX = "jupyterhub-tree-";

/**
 * The branches of a tree: a loopback entry point each.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EntryTree } from "./entry_tree.ts";
 * const tree: EntryTree = {
 *   entryPoints: ["jupyterhub-tree-0", "jupyterhub-tree-1"],
 *   urls: ["http://127.0.0.1:40001", "http://127.0.0.1:40002"],
 *   minRoutes: 2_000,
 *   fallback: "jupyterhub-fallback",
 * };
 * assert.equal(tree.entryPoints.length, tree.urls.length);
 * ```
 */
export interface EntryTree {
  /** traefik's entry point of each branch. */
  entryPoints: string[];
  /** The URL traefik reaches each branch's entry point at (`http://127.0.0.1:<port>`). */
  urls: string[];
  /** Routes under one base from which the tree is used (below, one entry point serves all). */
  minRoutes: number;
  /** The fallback's service (`name@provider` or a name in the same file), for each branch's catch-all. */
  fallback: string;
}

/**
 * The base of the tree for a table: the parent path most routes share (`/user/` for
 * `/user/<name>/`), when at least `minRoutes` routes sit under it with a name that starts with
 * one of `TREE_CHARACTERS`; else undefined. A base in use (`current`) is kept while it holds at
 * least three quarters of `minRoutes`, so that a table near the threshold does not switch back
 * and forth. `routespecs` is iterated up to twice.
 *
 * No base is one that traefik's rules would spell otherwise than the routespec (a parent with a
 * percent-encoded or two-spelled character: the branch routers' `PathPrefix` would miss some
 * requests), nor one a host route's path encloses (`hub.example/`, `h.example/user/`): its
 * router, above the routes under the base by the length of its host, takes requests for their
 * paths on that host, and the branch routers would send those away from it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { treeBase } from "./entry_tree.ts";
 * const specs = ["/", "/user/alice/", "/user/bob/", "/user/carol/", "/user/bob/lab/", "/hub/"];
 * assert.equal(treeBase(specs, { minRoutes: 3 }), "/user/");
 * assert.equal(treeBase(specs, { minRoutes: 4 }), undefined);
 * assert.equal(treeBase(specs, { minRoutes: 4, current: "/user/" }), "/user/"); // 3 >= 4 * 3/4
 * assert.equal(treeBase([...specs, "hub.example/"], { minRoutes: 3 }), undefined);
 * ```
 */
export function treeBase(
  routespecs: Iterable<string>,
  options: { minRoutes: number; current?: string },
): string | undefined {
  // The paths of host routes (few), collected on the way.
  const hostPaths: string[] = [];
  const enclosed = (base: string) => hostPaths.some((path) => base.startsWith(path));
  if (options.current !== undefined) {
    // The base in use, counted without cutting a string per route (this runs at every write).
    const base = options.current;
    let kept = 0;
    for (const spec of routespecs) {
      if (!spec.startsWith("/")) hostPaths.push(hostPath(spec));
      else if (
        spec.startsWith(base) && TREE_CHARACTERS.includes(spec[base.length]) &&
        spec.indexOf("/", base.length) === spec.length - 1
      ) kept++;
    }
    if (kept >= Math.ceil(options.minRoutes * 3 / 4) && !enclosed(base)) return base;
    hostPaths.length = 0;
  }
  const counts = new Map<string, number>();
  for (const spec of routespecs) {
    if (!spec.startsWith("/")) {
      hostPaths.push(hostPath(spec));
      continue;
    }
    if (!spec.endsWith("/")) continue;
    const cut = spec.lastIndexOf("/", spec.length - 2) + 1;
    if (cut <= 0 || !TREE_CHARACTERS.includes(spec[cut])) continue;
    const parent = spec.slice(0, cut);
    counts.set(parent, (counts.get(parent) ?? 0) + 1);
  }
  let best: string | undefined;
  let most = 0;
  for (const [parent, count] of counts) {
    if (!isPlainRoutespec(parent) || parent.includes("@") || enclosed(parent)) continue;
    if (count > most || (count === most && best !== undefined && parent < best)) {
      best = parent;
      most = count;
    }
  }
  return most >= options.minRoutes ? best : undefined;
}

// The path of a host route's routespec (`/user/` of `h.example/user/`).
function hostPath(routespec: string): string {
  const slash = routespec.indexOf("/");
  return slash < 0 ? "/" : routespec.slice(slash);
}

/**
 * The branch (index into `EntryTree.entryPoints`) of a routespec under `base`: decided by the
 * character after the base, for every routespec whose path starts with `<base><c>`, whatever
 * follows (a named server goes where its user's default server goes) and whatever its host (a
 * host route must be where the requests for its path are sent); undefined for any other.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { treeBranch } from "./entry_tree.ts";
 * assert.equal(treeBranch("/user/alice/", { base: "/user/", branches: 12 }), 0);
 * assert.equal(treeBranch("/user/alice/lab/", { base: "/user/", branches: 12 }), 0);
 * assert.equal(treeBranch("/user/Alice/", { base: "/user/", branches: 12 }), undefined);
 * assert.equal(treeBranch("/user/", { base: "/user/", branches: 12 }), undefined);
 * assert.equal(treeBranch("h.example/user/alice/", { base: "/user/", branches: 12 }), 0);
 * ```
 */
export function treeBranch(
  routespec: string,
  options: { base: string; branches: number },
): number | undefined {
  const path = routespec.startsWith("/") ? routespec : routespec.slice(routespec.indexOf("/"));
  if (path.length <= options.base.length || !path.startsWith(options.base)) return undefined;
  const at = TREE_CHARACTERS.indexOf(path[options.base.length]);
  return at < 0 ? undefined : at % options.branches;
}

/**
 * The tree's routers on the public entry point: one per branch, `PathPrefix` of the base and
 * each character of the branch, to a service that is the branch's entry point (its requests
 * neither logged nor counted there: the branch's own router does both).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TREE_PRIORITY, treeConfig } from "./entry_tree.ts";
 * const tree = {
 *   entryPoints: ["t0", "t1"],
 *   urls: ["http://127.0.0.1:1", "http://127.0.0.1:2"],
 *   minRoutes: 2,
 *   fallback: "jupyterhub-fallback",
 * };
 * const config = treeConfig({ entryPoint: "http", base: "/user/", tree });
 * const routers = (config.http as { routers: Record<string, { rule: string; priority: number }> }).routers;
 * assert.ok(routers["jupyterhub-tree-0"].rule.startsWith('PathPrefix("/user/a") || PathPrefix("/user/c")'));
 * assert.equal(routers["jupyterhub-tree-1"].priority, TREE_PRIORITY);
 * ```
 */
export function treeConfig(
  options: { entryPoint: string; base: string; tree: EntryTree },
): ConfigTree {
  const branches = options.tree.entryPoints.length;
  const routers: ConfigTree = {};
  const services: ConfigTree = {};
  for (let branch = 0; branch < branches; branch++) {
    const name = `${TREE_ROUTER_PREFIX}${branch}`;
    const rules = [...TREE_CHARACTERS]
      .filter((_, at) => at % branches === branch)
      .map((character) => `PathPrefix(${goString(options.base + character)})`);
    routers[name] = {
      rule: rules.join(" || "),
      service: name,
      entryPoints: [options.entryPoint],
      priority: TREE_PRIORITY,
      observability: { accessLogs: false, metrics: false, tracing: false },
    };
    services[name] = {
      loadBalancer: { servers: [{ url: options.tree.urls[branch] }], passHostHeader: true },
    };
  }
  return { http: { routers, services } };
}

/**
 * A catch-all to the fallback on each branch's entry point, for a request no route of the
 * branch matches. Written with `treeConfig`'s routers, in the same file (a tree not in use
 * leaves nothing of its own in traefik's dashboard).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALLBACK_PRIORITY } from "./rule.ts";
 * import { treeCatchAlls } from "./entry_tree.ts";
 * const tree = { entryPoints: ["t0"], urls: ["http://127.0.0.1:1"], minRoutes: 2, fallback: "fb" };
 * const routers = (treeCatchAlls(tree).http as { routers: Record<string, unknown> }).routers;
 * assert.deepEqual(routers["jupyterhub-tree-0-fallback"], {
 *   rule: 'PathPrefix("/")',
 *   service: "fb",
 *   entryPoints: ["t0"],
 *   priority: FALLBACK_PRIORITY,
 * });
 * ```
 */
export function treeCatchAlls(tree: EntryTree): ConfigTree {
  const routers: ConfigTree = {};
  tree.entryPoints.forEach((entryPoint, branch) => {
    routers[`${TREE_ROUTER_PREFIX}${branch}-fallback`] = {
      rule: 'PathPrefix("/")',
      service: tree.fallback,
      entryPoints: [entryPoint],
      priority: FALLBACK_PRIORITY,
    };
  });
  return { http: { routers } };
}
