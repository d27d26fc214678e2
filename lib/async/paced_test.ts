import assert from "node:assert/strict";
import { paced } from "./paced.ts";

Deno.test("paced asks a function interval before each change", async () => {
  const times: number[] = [];
  let interval = 0;
  const target = paced({ apply: () => (times.push(Date.now()), Promise.resolve()) }, {
    intervalMs: () => interval,
  });
  await target.apply({});
  await target.apply({});
  assert.ok(times[1] - times[0] < 40, "no wait with a zero interval");
  interval = 60;
  await target.apply({});
  assert.ok(times[2] - times[1] >= 55, `waited ${times[2] - times[1]} ms`);
});
