import assert from "node:assert/strict";
import { RoutespecError } from "./errors.ts";
import { escapeName, routerName, serviceName } from "./names.ts";
import { goString, routePriority, routeRule } from "./rule.ts";
import {
  isPlainRoutespec,
  normalizeRoutespec,
  parseRoutespec,
  routingPath,
  routingTokens,
} from "./routespec.ts";

Deno.test("parseRoutespec normalises path, host and root routespecs", () => {
  const rows: [string, string, string | undefined, string][] = [
    ["/", "/", undefined, "/"],
    ["/user/alice/", "/user/alice/", undefined, "/user/alice/"],
    ["/user/alice", "/user/alice/", undefined, "/user/alice/"],
    ["/user/a%20b/", "/user/a%20b/", undefined, "/user/a%20b/"],
    ["/user/a@b/", "/user/a@b/", undefined, "/user/a@b/"],
    ["/user/%C3%A9/", "/user/%C3%A9/", undefined, "/user/%C3%A9/"],
    ["/user/é/", "/user/%C3%A9/", undefined, "/user/%C3%A9/"],
    ["/user/a$b!/", "/user/a%24b%21/", undefined, "/user/a%24b%21/"],
    ["/user/a%7eb/", "/user/a~b/", undefined, "/user/a~b/"],
    ["/user/a%40b/", "/user/a@b/", undefined, "/user/a@b/"],
    ["/user/a%2fb/", "/user/a%2Fb/", undefined, "/user/a%2Fb/"],
    ["/user/a%25b/", "/user/a%25b/", undefined, "/user/a%25b/"],
    ["/user/%41/", "/user/A/", undefined, "/user/A/"],
    ["/user/%c3%a9", "/user/%C3%A9/", undefined, "/user/%C3%A9/"],
    ["host.tld/user/a/", "host.tld/user/a/", "host.tld", "/user/a/"],
    ["host.tld/user/a", "host.tld/user/a/", "host.tld", "/user/a/"],
    ["host.tld", "host.tld/", "host.tld", "/"],
    ["host.tld:8000/x/", "host.tld:8000/x/", "host.tld:8000", "/x/"],
  ];
  for (const [input, routespec, host, path] of rows) {
    const parsed = parseRoutespec(input);
    assert.equal(parsed.routespec, routespec, input);
    assert.equal(parsed.host, host, input);
    assert.equal(parsed.path, path, input);
  }
});

Deno.test("parseRoutespec rejects what could never route or could inject", () => {
  const rows = [
    "",
    "/a b/",
    "/user/`) || PathPrefix(`/",
    '/user/a") || PathPrefix("/',
    "/user/{{.Env}}/",
    "/user/a?x=1/",
    "/user/a#frag/",
    "/a\\b/",
    "/a%2/",
    "/a%zz/",
    "/a%ff/",
    "/a%00/",
    "/a%7F/",
    "/a%C3/",
    "/a\uD800/",
    "/a//b/",
    "/a/../b/",
    "/a/%2E%2E/b/",
    "/./",
    "host tld/a/",
    "host_x/a/",
    "ho`st/a/",
    "/" + "a".repeat(3000),
  ];
  for (const input of rows) {
    assert.throws(() => parseRoutespec(input), RoutespecError, JSON.stringify(input));
  }
});

Deno.test("RoutespecError names the routespec and the reason", () => {
  assert.throws(
    () => normalizeRoutespec("/a b/"),
    (error: Error) =>
      error instanceof RoutespecError && error.message.includes('"/a b/"') &&
      error.message.includes("percent-encode"),
  );
});

Deno.test("routingPath decodes unreserved escapes and keeps reserved ones in uppercase", () => {
  const rows: [string, string][] = [
    ["/user/alice/", "/user/alice/"],
    ["/user/a%20b/", "/user/a b/"],
    ["/user/a%2fb/", "/user/a%2Fb/"],
    ["/user/a%40b/", "/user/a%40b/"],
    ["/user/%C3%A9/", "/user/é/"],
    ["/user/%7e/", "/user/~/"],
    ["/user/%25/", "/user/%25/"],
    ["/user/%7B%7B/", "/user/{{/"],
  ];
  for (const [input, expected] of rows) assert.equal(routingPath(input), expected, input);
});

Deno.test("names follow the Python proxy's escaping", () => {
  assert.equal(escapeName("/user/alice/"), "_2Fuser_2Falice_2F");
  assert.equal(routerName("/user/alice/"), "router__2Fuser_2Falice_2F");
  assert.equal(serviceName("/user/alice/"), "service__2Fuser_2Falice_2F");
  assert.equal(escapeName("/a_b-c/"), "_2Fa_5Fb-c_2F");
  assert.equal(escapeName("/é/"), "_2F_C3_A9_2F");
  assert.equal(escapeName("/a%20b/"), "_2Fa_2520b_2F");
  assert.equal(escapeName("h.tld/"), "h_2Etld_2F");
  assert.match(routerName("/user/`x`/"), /^[A-Za-z0-9_-]+$/);
});

Deno.test("goString writes Go string literals that cannot be closed early", () => {
  assert.equal(goString("/a/"), '"/a/"');
  assert.equal(goString('/a"b\\/'), '"/a\\"b\\\\/"');
  assert.equal(goString("/{{x}}/"), '"/\\x7b\\x7bx}}/"');
  assert.equal(goString("/`/"), '"/`/"');
  assert.equal(goString("/é/"), '"/é/"');
});

Deno.test("routeRule matches whole segments, host routes and the root", () => {
  const rows: [string, string][] = [
    ["/", 'PathPrefix("/")'],
    ["/user/a/", 'Path("/user/a") || PathPrefix("/user/a/")'],
    ["/user/a%20b/", 'Path("/user/a b") || PathPrefix("/user/a b/")'],
    ["/user/a%2Fb/", 'Path("/user/a%2Fb") || PathPrefix("/user/a%2Fb/")'],
    ["/user/%7B%7B/", 'Path("/user/\\x7b\\x7b") || PathPrefix("/user/\\x7b\\x7b/")'],
    ["h.tld/", 'Host("h.tld")'],
    ["H.tld:8000/", 'Host("h.tld")'],
    ["h.tld/user/a/", 'Host("h.tld") && (Path("/user/a") || PathPrefix("/user/a/"))'],
    ["/user/a%24b/", 'PathRegexp("^/user/a(?:\\\\$|%24)b(?:/|$)")'],
    ["/user/a@x.org/", 'PathRegexp("^/user/a(?:@|%40)x\\\\.org(?:/|$)")'],
    ["/user/%E2%9C%93+/", 'PathRegexp("^/user/✓(?:\\\\+|%2B)(?:/|$)")'],
    ["/user/%7B(/", 'PathRegexp("^/user/\\\\\\x7b(?:\\\\(|%28)(?:/|$)")'],
    ["/user/a%2Fb$/", 'PathRegexp("^/user/a%2Fb(?:\\\\$|%24)(?:/|$)")'],
    ["h.tld/user/a$/", 'Host("h.tld") && (PathRegexp("^/user/a(?:\\\\$|%24)(?:/|$)"))'],
  ];
  for (const [input, rule] of rows) assert.equal(routeRule(parseRoutespec(input)), rule, input);
});

Deno.test("routePriority makes longer prefixes win", () => {
  const p = (s: string) => routePriority(parseRoutespec(s));
  assert.ok(p("/") < p("/user/"));
  assert.ok(p("/user/") < p("/user/a/"));
  assert.ok(p("/user/a/") < p("/user/a/b/"));
  assert.ok(p("h.tld/") < p("h.tld/user/"));
  assert.ok(p("/") > 1, "above the sentinel");
});

Deno.test("parseRoutespec gives every spelling of a decoded path one canonical routespec", () => {
  // JupyterHub's form: quote(name, safe="@~") within each segment, uppercase hex.
  const rows: [string[], string][] = [
    [[
      "/user/w/$p~c%7Ca!%20ch@rs",
      "/user/w/%24p~c%7Ca%21%20ch@rs/",
      "/user/w/%24p%7Ec%7ca%21%20ch%40rs",
    ], "/user/w/%24p~c%7Ca%21%20ch@rs/"],
    [["/user/a+b@x.org", "/user/a%2Bb%40x.org/", "/user/a%2bb@x%2Eorg"], "/user/a%2Bb@x.org/"],
    [["/user/é/", "/user/%C3%A9", "/user/%c3%a9/"], "/user/%C3%A9/"],
    [
      ["/user/'()*,;=:&/", "/user/%27%28%29%2A%2C%3B%3D%3A%26/"],
      "/user/%27%28%29%2A%2C%3B%3D%3A%26/",
    ],
  ];
  for (const [spellings, canonical] of rows) {
    for (const spelling of spellings) {
      assert.equal(normalizeRoutespec(spelling), canonical, spelling);
      assert.equal(normalizeRoutespec(canonical), canonical, "idempotent");
    }
  }
});

Deno.test("parseRoutespec keeps an encoded slash inside its segment", () => {
  assert.notEqual(normalizeRoutespec("/user/a%2Fb/"), normalizeRoutespec("/user/a/b/"));
  assert.equal(routerName(normalizeRoutespec("/user/a%2fb")), "router__2Fuser_2Fa_252Fb_2F");
});

Deno.test("routingTokens keeps reserved characters apart with their spelling", () => {
  assert.deepEqual(routingTokens("/a%21!%C3%A9/"), [
    { reserved: "/", encoded: false },
    { text: "a" },
    { reserved: "!", encoded: true },
    { reserved: "!", encoded: false },
    { text: "é" },
    { reserved: "/", encoded: false },
  ]);
});

Deno.test("routeRule keeps the plain rule unless a reserved character has two spellings", () => {
  for (
    const spec of ["/user/alice/", "/user/a%20b/", "/user/%C3%A9/", "/user/a%2Fb/", "/u/a%25/"]
  ) {
    assert.match(routeRule(parseRoutespec(spec)), /^Path\(/, spec);
  }
  for (const ch of ":@!$&'()*+,;=") {
    const spec = parseRoutespec(
      `/user/a${
        encodeURIComponent(ch) === ch ? "%" + ch.charCodeAt(0).toString(16) : encodeURIComponent(ch)
      }b/`,
    );
    assert.match(routeRule(spec), /^PathRegexp\(/, ch);
  }
});

Deno.test("parseRoutespec gives a plain routespec back as its slow path would", () => {
  // The oracle: without its trailing slash a routespec is not plain, so it takes the slow path.
  const alphabet = "abcXYZ019._~-@";
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const specs = [
    "/user/alice/",
    "/user/a@b.org/",
    "/user/.../",
    "/user/a.b/c~d/",
    "/user/-_/",
    "/U/",
  ];
  for (let i = 0; i < 500; i++) {
    let spec = "";
    for (let s = 1 + Math.floor(next() * 3); s > 0; s--) {
      let segment = "";
      for (let n = 1 + Math.floor(next() * 6); n > 0; n--) {
        segment += alphabet[Math.floor(next() * alphabet.length)];
      }
      spec += `/${segment}`;
    }
    if (/\/\.\.?(?=\/|$)/.test(spec)) continue; // a dot segment: not plain, refused anyway
    specs.push(spec + "/");
  }
  for (const spec of specs) {
    assert.ok(isPlainRoutespec(spec), spec);
    assert.deepEqual(parseRoutespec(spec), parseRoutespec(spec.slice(0, -1)), spec);
  }
  for (
    const spec of ["/user/./", "/user/../", "/a%24/", "/a$/", "/a b/", "host.example/a/", "/a"]
  ) {
    assert.ok(!isPlainRoutespec(spec), spec);
  }
});
