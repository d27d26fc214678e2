import assert from "node:assert/strict";
import { TIMED_OUT, withTimeout } from "./timeout.ts";

// Deno's op sanitizer (off by default in Deno 2.9) fails a test that ends with a timer still
// running: on here, it checks that withTimeout always clears its timer; the long limits below
// would outlive the test.
const noTimerLeft = { sanitizeOps: true, sanitizeResources: true };

Deno.test(
  "withTimeout resolves to the value of a promise that settles in time",
  noTimerLeft,
  async () => {
    assert.equal(await withTimeout(Promise.resolve(42), 60_000), 42);
    const later = new Promise<string>((resolve) => queueMicrotask(() => resolve("later")));
    assert.equal(await withTimeout(later, 60_000), "later");
  },
);

Deno.test(
  "withTimeout resolves to TIMED_OUT when the promise is too slow",
  noTimerLeft,
  async () => {
    const never = new Promise<number>(() => {});
    const start = performance.now();
    assert.equal(await withTimeout(never, 20), TIMED_OUT);
    assert.ok(performance.now() - start >= 15, "not before the time is up");
  },
);

Deno.test("withTimeout passes a rejection through", noTimerLeft, async () => {
  await assert.rejects(withTimeout(Promise.reject(new Error("boom")), 60_000), /boom/);
});
