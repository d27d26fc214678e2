import assert from "node:assert/strict";
import { chpPathFromRoutespec, routespecFromChpPath } from "./path.ts";
import { RoutespecError } from "../core/errors.ts";

Deno.test("CHP paths convert to routespecs and back, percent-decoded", () => {
  const rows: [string, boolean, string, string][] = [
    ["", false, "/", "/"],
    ["/", false, "/", "/"],
    ["/user/alice", false, "/user/alice/", "/user/alice"],
    [
      "/@/space%20word/user/%E7%A7%80%E6%A8%B9",
      false,
      "/@/space%20word/user/%E7%A7%80%E6%A8%B9/",
      "/@/space word/user/秀樹",
    ],
    ["/h.example/user/a", true, "h.example/user/a/", "/h.example/user/a"],
    ["/", true, "/", "/"],
  ];
  for (const [path, hostRouting, routespec, key] of rows) {
    assert.equal(routespecFromChpPath(path, { hostRouting }), routespec, path);
    assert.equal(chpPathFromRoutespec(routespec), key, path);
  }
  assert.throws(() => routespecFromChpPath("/a b"), RoutespecError);
});
