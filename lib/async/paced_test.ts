import assert from "node:assert/strict";
import { paced } from "./paced.ts";

Deno.test("paced: a change waits for the interval, unless someone is waiting for it", async () => {
  const times: number[] = [];
  let urgent = false;
  const target = paced({ apply: () => (times.push(Date.now()), Promise.resolve()) }, {
    intervalMs: 300,
    urgent: () => urgent,
  });
  await target.apply({ set: [] });
  await target.apply({ set: [] });
  assert.ok(times[1] - times[0] >= 280, `${times[1] - times[0]} ms`);
  const started = Date.now();
  const third = target.apply({ set: [] });
  setTimeout(() => urgent = true, 50);
  await third;
  assert.ok(Date.now() - started < 200, `${Date.now() - started} ms`);
});
