import assert from "node:assert/strict";
import { runAll } from "./run_all.ts";

Deno.test("runAll runs every step in order, even after one throws or rejects", async () => {
  const log: string[] = [];
  await runAll([
    () => void log.push("1"),
    () => {
      log.push("2 throws");
      throw new Error("2");
    },
    async () => {
      await Promise.resolve();
      log.push("3 rejects");
      throw new Error("3");
    },
    () => void log.push("4"),
  ]);
  assert.deepEqual(log, ["1", "2 throws", "3 rejects", "4"]);
});

Deno.test("runAll waits for each step before starting the next", async () => {
  const log: string[] = [];
  const step = (name: string) => async () => {
    log.push(`${name} starts`);
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    await Promise.resolve();
    log.push(`${name} ends`);
  };
  await runAll([step("a"), step("b")]);
  assert.deepEqual(log, ["a starts", "a ends", "b starts", "b ends"]);
});

Deno.test("runAll takes any iterable of steps and resolves when there are none", async () => {
  const log: number[] = [];
  function* steps() {
    for (let i = 0; i < 3; i++) yield () => void log.push(i);
  }
  await runAll(steps());
  assert.deepEqual(log, [0, 1, 2]);
  await runAll([]);
});
