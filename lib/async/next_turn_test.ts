import assert from "node:assert/strict";
import { nextTurn } from "./next_turn.ts";

// With the sanitizers on: a turn leaves no message port open and no pending op behind.
const nothingLeft = { sanitizeOps: true, sanitizeResources: true };

Deno.test("nextTurn lets a due timer run between slices of busy work", nothingLeft, async () => {
  let fired = false;
  setTimeout(() => fired = true, 5);
  // Slices of 2 ms of busy work with a turn between them, as a long render does: the timer
  // runs on the first turn after it is due, long before the work would end.
  let slices = 0;
  while (!fired && slices < 500) {
    const until = performance.now() + 2;
    while (performance.now() < until) slices += 0;
    slices++;
    await nextTurn();
  }
  assert.ok(fired, `the timer did not run in ${slices} slices`);
  assert.ok(slices < 100, `the timer ran after ${slices} slices`);
});

Deno.test("nextTurn: a microtask is no turn", nothingLeft, async () => {
  let fired = false;
  setTimeout(() => fired = true, 0);
  const until = performance.now() + 5;
  let spins = 0;
  while (performance.now() < until) spins++;
  await Promise.resolve();
  assert.equal(fired, false, "a microtask lets no timer run");
  await nextTurn();
  await nextTurn();
  assert.equal(fired, true);
  assert.ok(spins > 0);
});
