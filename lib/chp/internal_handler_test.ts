import assert from "node:assert/strict";
import { ERROR_PAGE_PATH } from "./instance_config.ts";
import { internalHandler } from "./internal_handler.ts";

/** A stand-in for JupyterHub's error pages: echoes the path and query it was asked for. */
function fakeHub(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    return new Response(`hub page ${url.pathname} url=${url.searchParams.get("url")}`, {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  });
}

Deno.test("internalHandler: /_chp_healthz answers {status: OK}", async () => {
  const response = await internalHandler({})(new Request("http://127.0.0.1/_chp_healthz"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.deepEqual(await response.json(), { status: "OK" });
});

Deno.test("internalHandler: an unmatched path gives the plain 404 page", async () => {
  const response = await internalHandler({})(new Request("http://127.0.0.1/user/x/lab?a=1"));
  assert.equal(response.status, 404);
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await response.text(), "404 Not Found: /user/x/lab?a=1\n");
});

Deno.test("internalHandler: error pages come from --error-target with the original status", async () => {
  const hub = fakeHub();
  try {
    const handler = internalHandler({
      errorTarget: `http://127.0.0.1:${hub.addr.port}/hub/error/`,
    });
    const original = encodeURIComponent("http://h.example/user/a/tree?x=1");
    const down = await handler(
      new Request(`http://127.0.0.1${ERROR_PAGE_PATH}/503?url=${original}`),
    );
    assert.equal(down.status, 503);
    assert.equal(down.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(await down.text(), "hub page /hub/error/503 url=/user/a/tree?x=1");
    const missing = await handler(new Request("http://127.0.0.1/nope?q=2"));
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), "hub page /hub/error/404 url=/nope?q=2");
  } finally {
    await hub.shutdown();
  }
});

Deno.test("internalHandler: falls back to the plain page when the error target is down", async () => {
  const hub = fakeHub();
  const port = hub.addr.port;
  await hub.shutdown(); // nothing listens there now
  const handler = internalHandler({ errorTarget: `http://127.0.0.1:${port}/hub/error` });
  const response = await handler(
    new Request(`http://127.0.0.1${ERROR_PAGE_PATH}/503?url=${encodeURIComponent("/user/a/")}`),
  );
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await response.text(), "503 Service Unavailable: /user/a/\n");
});
