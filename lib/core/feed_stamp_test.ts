import assert from "node:assert/strict";
import { FEED_STAMP_NAME, feedStampConfig, feedStampOf } from "./feed_stamp.ts";

Deno.test("feedStampOf reads back the write number of feedStampConfig", () => {
  for (const write of [0, 1, 42, 1_000_000, Number.MAX_SAFE_INTEGER]) {
    const config = feedStampConfig({ entryPoint: "http", write }) as {
      http: { routers: Record<string, unknown> };
    };
    assert.equal(feedStampOf(config.http.routers[FEED_STAMP_NAME]), write);
  }
});

Deno.test("feedStampOf is undefined for anything but a stamp", () => {
  const rows: unknown[] = [
    undefined,
    null,
    'Host("jupyterhub-feed-1.invalid")',
    {},
    { rule: 7 },
    { rule: 'Host("jupyterhub-feed-.invalid")' },
    { rule: 'Host("jupyterhub-feed-1.invalid") || Host("x")' },
    { rule: 'Host("jupyterhub-feed-1x.invalid")' },
    { rule: 'Host("jupyterhub-sentinel.invalid")' },
  ];
  for (const row of rows) assert.equal(feedStampOf(row), undefined, JSON.stringify(row));
});

Deno.test("feedStampConfig refuses a write number that is not a non-negative integer", () => {
  for (const write of [-1, 1.5, NaN, Infinity, 2 ** 60]) {
    assert.throws(() => feedStampConfig({ entryPoint: "http", write }), RangeError);
  }
});

Deno.test("the stamp router matches only a reserved host, on the given entry point", () => {
  const config = feedStampConfig({ entryPoint: "web", write: 3 }) as {
    http: { routers: Record<string, Record<string, unknown>> };
  };
  assert.deepEqual(config.http.routers[FEED_STAMP_NAME], {
    rule: 'Host("jupyterhub-feed-3.invalid")',
    service: "noop@internal",
    entryPoints: ["web"],
    priority: 1,
  });
});
