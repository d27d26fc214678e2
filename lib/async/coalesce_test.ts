import assert from "node:assert/strict";
import { coalescer } from "./coalesce.ts";

Deno.test("coalescer commits a burst together and the next burst after it", async () => {
  const batches: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const queue = coalescer<number>({
    commit: async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate;
    },
  });
  const first = [1, 2, 3].map((n) => queue.push(n));
  await new Promise((r) => setTimeout(r, 5));
  const second = [4, 5].map((n) => queue.push(n)); // arrive while the first commit waits
  release();
  await Promise.all([...first, ...second]);
  assert.deepEqual(batches, [[1, 2, 3], [4, 5]]);
  await queue.idle();
});

Deno.test("coalescer rejects a checked item alone and a failed commit's whole batch", async () => {
  let fail = false;
  const queue = coalescer<number>({
    check: (n) => {
      if (n < 0) throw new Error("negative");
    },
    commit: () => fail ? Promise.reject(new Error("store down")) : Promise.resolve(),
  });
  const results = await Promise.allSettled([queue.push(1), queue.push(-1)]);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected"]);
  fail = true;
  const failed = await Promise.allSettled([queue.push(2), queue.push(3)]);
  assert.deepEqual(failed.map((r) => r.status), ["rejected", "rejected"]);
});
