import assert from "node:assert/strict";
import {
  TREE_CHARACTERS,
  TREE_PRIORITY,
  TREE_ROUTER_PREFIX,
  treeBase,
  treeBranch,
  treeCatchAlls,
  treeConfig,
} from "./entry_tree.ts";
import { FALLBACK_PRIORITY, routePriority, WEBSOCKET_PRIORITY } from "./rule.ts";
import { parseRoutespec } from "./routespec.ts";

const users = (base: string, names: string[]) => names.map((name) => `${base}${name}/`);

Deno.test("treeBase is the parent most routes share, from minRoutes of them", () => {
  const specs = [
    "/",
    ...users("/hub42/user/", ["alice", "bob", "carol", "7seas"]),
    "/hub42/user/alice/lab/", // a named server counts for /hub42/user/alice/
    "/hub42/user/alice/gpu/",
    ...users("/hub42/services/", ["x", "y"]),
    ...users("/hub42/user/", ["Dave", "%C3%A9lise", "_x"]), // first characters outside the tree
    "h.example/user/zed/", // a host route
  ];
  assert.equal(treeBase(specs, { minRoutes: 4 }), "/hub42/user/");
  assert.equal(treeBase(specs, { minRoutes: 5 }), undefined);
  assert.equal(treeBase([], { minRoutes: 1 }), undefined);
  // Kept while it holds three quarters of minRoutes: no switching back and forth near it.
  assert.equal(treeBase(specs, { minRoutes: 5, current: "/hub42/user/" }), "/hub42/user/");
  assert.equal(treeBase(specs, { minRoutes: 6, current: "/hub42/user/" }), undefined);
  // A base in use that lost its routes gives way to another.
  const moved = users("/u/", ["a", "b", "c"]);
  assert.equal(treeBase(moved, { minRoutes: 3, current: "/hub42/user/" }), "/u/");
  // No base that traefik's rules would spell otherwise, nor one a host route's path encloses.
  assert.equal(treeBase(users("/my%20hub/", ["a", "b"]), { minRoutes: 2 }), undefined);
  assert.equal(treeBase(users("/jh@x/", ["a", "b"]), { minRoutes: 2 }), undefined);
  const hosted = users("/user/", ["a", "b"]);
  for (const host of ["hub.example/", "h.example/user/"]) {
    assert.equal(treeBase([...hosted, host], { minRoutes: 2 }), undefined, host);
    assert.equal(treeBase([...hosted, host], { minRoutes: 2, current: "/user/" }), undefined);
  }
  assert.equal(treeBase([...hosted, "h.example/user/a/"], { minRoutes: 2 }), "/user/");
  // Iterated twice when the base in use no longer holds: an iterable that can be.
  const table = new Map(users("/u/", ["a", "b"]).map((spec) => [spec, 0]));
  const keys = { [Symbol.iterator]: () => table.keys() };
  assert.equal(treeBase(keys, { minRoutes: 2, current: "/gone/" }), "/u/");
  // Ties go to the smaller path, whatever the order.
  const tie = [...users("/b/", ["x", "y"]), ...users("/a/", ["x", "y"])];
  assert.equal(treeBase(tie, { minRoutes: 2 }), "/a/");
  assert.equal(treeBase([...tie].reverse(), { minRoutes: 2 }), "/a/");
});

Deno.test("treeBranch puts every routespec under <base><c> on c's branch, and no other", () => {
  const options = { base: "/user/", branches: 12 };
  for (const [at, character] of [...TREE_CHARACTERS].entries()) {
    const branch = at % 12;
    assert.equal(treeBranch(`/user/${character}/`, options), branch);
    assert.equal(treeBranch(`/user/${character}x%24y/`, options), branch);
    assert.equal(treeBranch(`/user/${character}bc/named/`, options), branch);
    assert.equal(treeBranch(`h.example/user/${character}/`, options), branch);
  }
  for (const spec of ["/", "/user/", "/users/a/", "/hub/", "/user/A/", "/user/%61/", "/user/_/"]) {
    assert.equal(treeBranch(spec, options), undefined, spec);
  }
  assert.equal(treeBranch("h.example/", options), undefined);
  assert.equal(treeBranch("/user/q/", { base: "/user/", branches: 1 }), 0);
});

Deno.test("treeConfig sends each first character to one branch, above every route, below websockets", () => {
  const tree = {
    entryPoints: ["t0", "t1", "t2"],
    urls: ["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"],
    minRoutes: 1,
    fallback: "fb",
  };
  const config = treeConfig({ entryPoint: "https", base: '/u"{{x}}/', tree });
  const http = config.http as {
    routers: Record<string, { rule: string; priority: number; entryPoints: string[] }>;
    services: Record<string, { loadBalancer: { servers: { url: string }[] } }>;
  };
  const names = Object.keys(http.routers);
  assert.deepEqual(names, [0, 1, 2].map((branch) => `${TREE_ROUTER_PREFIX}${branch}`));
  for (const [branch, name] of names.entries()) {
    const router = http.routers[name];
    assert.deepEqual(router.entryPoints, ["https"]);
    assert.equal(router.priority, TREE_PRIORITY);
    assert.equal(http.services[name].loadBalancer.servers[0].url, tree.urls[branch]);
    // The branch's catch-all, on the branch only.
    const catchAlls = treeCatchAlls(tree).http as { routers: Record<string, unknown> };
    assert.deepEqual(catchAlls.routers[`${name}-fallback`], {
      rule: 'PathPrefix("/")',
      service: "fb",
      entryPoints: [tree.entryPoints[branch]],
      priority: FALLBACK_PRIORITY,
    });
    assert.ok(!router.rule.includes("{{"), router.rule);
    for (const [at, character] of [...TREE_CHARACTERS].entries()) {
      const prefix = `PathPrefix("/u\\"\\x7b\\x7bx}}/${character}")`;
      assert.equal(router.rule.includes(prefix), at % 3 === branch, `${name} ${character}`);
    }
  }
  const longest = parseRoutespec("/" + "a".repeat(2000) + "/");
  assert.ok(TREE_PRIORITY > routePriority(longest));
  assert.ok(TREE_PRIORITY < WEBSOCKET_PRIORITY);
});
