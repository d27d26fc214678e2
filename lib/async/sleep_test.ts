import assert from "node:assert/strict";
import { sleep } from "./sleep.ts";

// With the sanitizers on: no timer is left behind however the sleep ends.
const nothingLeft = { sanitizeOps: true, sanitizeResources: true };

Deno.test("sleep waits its time, or ends at once when stopped", nothingLeft, async () => {
  const stop = new AbortController();
  let started = performance.now();
  await sleep(30, stop.signal);
  assert.ok(performance.now() - started >= 25, "waited");
  started = performance.now();
  const long = sleep(60_000, stop.signal);
  stop.abort();
  await long;
  await sleep(60_000, stop.signal); // already stopped
  assert.ok(performance.now() - started < 1_000, "cut short");
});
