import assert from "node:assert/strict";
import { parseRoutespec } from "./routespec.ts";
import { RoutespecError } from "./errors.ts";
import { routeIndex } from "./route_index.ts";
import {
  addRuleKeys,
  FALLBACK_PRIORITY,
  routePriority,
  routeRule,
  ruleKeys,
  ruleScope,
  shortRuleAllowed,
  shortRuleAllowedFor,
} from "./rule.ts";
import type { Route } from "./types.ts";

Deno.test("routeRule: the short form leaves the bare path out, and only that", () => {
  const cases: [string, string, string][] = [
    ["/user/a/", 'Path("/user/a") || PathPrefix("/user/a/")', 'PathPrefix("/user/a/")'],
    [
      "h.example/user/a/",
      'Host("h.example") && (Path("/user/a") || PathPrefix("/user/a/"))',
      'Host("h.example") && PathPrefix("/user/a/")',
    ],
    // No short form: the root, a host alone, a path with two spellings.
    ["/", 'PathPrefix("/")', 'PathPrefix("/")'],
    ["h.example/", 'Host("h.example")', 'Host("h.example")'],
    ["/user/a%24b/", "", ""],
  ];
  for (const [routespec, whole, short] of cases) {
    const spec = parseRoutespec(routespec);
    if (whole) assert.equal(routeRule(spec), whole, routespec);
    assert.equal(routeRule(spec, { short: true }), short || routeRule(spec), routespec);
  }
});

Deno.test("shortRuleAllowed: a route keeps its bare path when another route encloses it", () => {
  const cases: [string[], string, boolean][] = [
    [["/user/a/"], "/user/a/", true],
    [["/", "/user/a/"], "/user/a/", true], // the root is the fallback's
    [["/user/", "/user/a/"], "/user/a/", false],
    [["/user/", "/user/a/"], "/user/", true],
    [["/user/a/", "/user/a/server2/"], "/user/a/server2/", false],
    [["/user/ab/", "/user/a/b/"], "/user/a/b/", true], // whole segments only
    [["h.example/", "/user/a/"], "/user/a/", false], // any host route may take it
    [["h.example/x/", "/user/a/"], "/user/a/", false],
    [["h.example/", "h.example/user/a/"], "h.example/user/a/", false],
    [["h.example/user/", "h.example/user/a/"], "h.example/user/a/", false],
    [["other.example/user/", "h.example/user/a/"], "h.example/user/a/", true],
    [["/user/a/", "h.example/user/a/"], "h.example/user/a/", false], // Path("/user/a")
    [["/user/", "h.example/user/a/"], "h.example/user/a/", false],
    [["/", "h.example/user/a/"], "h.example/user/a/", true],
    [["H.Example:8000/", "h.example/user/a/"], "h.example/user/a/", false],
    [["/user/a%24b/x/"], "/user/a%24b/x/", false], // a PathRegexp
  ];
  for (const [table, routespec, allowed] of cases) {
    const keys = ruleKeys(table.map((r) => ruleScope(parseRoutespec(r))));
    const scope = ruleScope(parseRoutespec(routespec));
    assert.equal(shortRuleAllowed(scope, keys), allowed, `${routespec} in ${table.join(" ")}`);
    // The same from the routespecs alone (what a file's write uses).
    const fromSpecs = new Set<string>();
    for (const r of table) addRuleKeys(fromSpecs, parseRoutespec(r).routespec);
    assert.deepEqual(fromSpecs, keys, table.join(" "));
    const canonical = parseRoutespec(routespec).routespec;
    assert.equal(shortRuleAllowedFor(canonical, fromSpecs), allowed, `${routespec} (from specs)`);
  }
});

Deno.test("addRuleKeys and shortRuleAllowedFor agree with the scopes on every pair of a table", () => {
  const table = [
    "/",
    "/user/",
    "/user/a/",
    "/user/a/b/",
    "/user/a/b/c/",
    "/user/ab/",
    "/user/a.b/",
    "/user/a~b/x/",
    "/user/a-b_c/",
    "/user/a@b/",
    "/user/a@b/x/",
    "/user/a%24b/",
    "/user/a%24b/x/",
    "/user/a%2Fb/",
    "/user/%E2%98%83/lab/",
    "/hub/",
    "h.example/",
    "h.example/user/a/",
    "H.Example:8000/user/",
  ].map((r) => parseRoutespec(r).routespec);
  let compared = 0;
  // Every sub-table of up to three routes, each route of it checked.
  for (let i = 0; i < table.length; i++) {
    for (let j = i; j < table.length; j++) {
      for (let k = j; k < table.length; k++) {
        const sub = [...new Set([table[i], table[j], table[k]])];
        const keys = ruleKeys(sub.map((r) => ruleScope(parseRoutespec(r))));
        const fromSpecs = new Set<string>();
        for (const r of sub) addRuleKeys(fromSpecs, r);
        assert.deepEqual(fromSpecs, keys, sub.join(" "));
        for (const r of sub) {
          const expected = shortRuleAllowed(ruleScope(parseRoutespec(r)), keys);
          assert.equal(shortRuleAllowedFor(r, fromSpecs), expected, `${r} in ${sub.join(" ")}`);
          compared++;
        }
      }
    }
  }
  assert.ok(compared > 2_000, `${compared}`);
});

Deno.test("addRuleKeys and shortRuleAllowedFor refuse what parseRoutespec refuses", () => {
  for (const routespec of ["/user/../", "/user/./a/", "/user//a/", `/${"a".repeat(2048)}/`]) {
    assert.throws(() => addRuleKeys(new Set(), routespec), RoutespecError, routespec);
    assert.throws(() => shortRuleAllowedFor(routespec, new Set()), RoutespecError, routespec);
  }
});

// traefik's choice among routers (the highest priority that matches, the catch-all when none
// above it does), its matchers written out; undefined: the catch-all, that is the fallback.
function traefikChoice(
  routes: { spec: ReturnType<typeof parseRoutespec>; short: boolean }[],
  host: string,
  path: string,
): string | undefined {
  let best: { routespec: string; priority: number } | undefined;
  for (const { spec, short } of routes) {
    const priority = routePriority(spec);
    if (priority <= FALLBACK_PRIORITY) continue; // below the catch-all: never reached
    if (spec.host !== undefined && spec.host.toLowerCase() !== host) continue;
    const bare = spec.path.slice(0, -1);
    const matches = spec.path === "/" || path.startsWith(spec.path) || (!short && path === bare);
    if (matches && (!best || priority > best.priority)) {
      best = { routespec: spec.routespec, priority };
    }
  }
  return best?.routespec;
}

Deno.test("shortRuleAllowed: traefik with short rules and the fallback route every request as whole rules do", () => {
  // Small alphabets, so that tables nest routes, host routes and paths in every way.
  let seed = 7; // xorshift32: the same tables every run
  const random = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const segments = ["a", "b", "ab"];
  const hosts = ["hh", "kk"]; // short: a host route may rank below a path route
  const randomPath = () => {
    let path = "/";
    for (let depth = 1 + random(3); depth > 0; depth--) path += segments[random(3)] + "/";
    return path;
  };
  for (let round = 0; round < 300; round++) {
    const table = new Set<string>();
    for (let n = 1 + random(6); n > 0; n--) {
      const path = random(4) === 0 ? "/" : randomPath();
      table.add(random(4) === 0 ? hosts[random(2)] + path : path);
    }
    const specs = [...table].map((routespec) => parseRoutespec(routespec));
    const keys = ruleKeys(specs.map(ruleScope));
    const routers = specs.map((spec) => ({ spec, short: shortRuleAllowed(ruleScope(spec), keys) }));
    const index = routeIndex();
    index.apply({
      set: specs.map((spec): Route => ({ routespec: spec.routespec, target: "t", data: {} })),
    });
    for (const spec of specs) {
      const bare = spec.path.slice(0, -1) || "/";
      for (const path of [bare, spec.path, spec.path + "x", bare + "b"]) {
        for (const host of hosts) {
          const whole = traefikChoice(routers.map((r) => ({ ...r, short: false })), host, path) ??
            index.match({ host, path })?.routespec;
          const short = traefikChoice(routers, host, path) ??
            index.match({ host, path })?.routespec;
          assert.equal(short, whole, `${host}${path} in ${[...table].join(" ")}`);
        }
      }
    }
  }
});
