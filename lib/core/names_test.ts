import assert from "node:assert/strict";
import { routerName, routespecOfRouter } from "./names.ts";

Deno.test("routespecOfRouter inverts routerName for every kind of routespec", () => {
  for (
    const routespec of [
      "/",
      "/user/alice/",
      "/user/a%24b/",
      "/user/a@b.c/",
      "/user/al ice/",
      "/user/ünï/",
      "/user/a_b-c/",
      "hub.example.org/user/x/",
      "/user/%F0%9F%98%80/",
    ]
  ) {
    assert.equal(routespecOfRouter(routerName(routespec)), routespec, routespec);
    assert.equal(routespecOfRouter(`${routerName(routespec)}@redis`), routespec, routespec);
  }
});

Deno.test("routespecOfRouter refuses names routerName cannot have made", () => {
  for (
    const name of [
      "jupyterhub-sentinel@file",
      "route_api@file",
      "router_",
      "router__2",
      "router__ZZ",
      "router__2D", // "-" is written as itself
      "router__FF", // not UTF-8
      "router_a.b",
    ]
  ) {
    assert.equal(routespecOfRouter(name), undefined, name);
  }
});
