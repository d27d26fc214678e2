import assert from "node:assert/strict";
import { cpuMs, cpuSince, descendants } from "./cpu.ts";

Deno.test("cpuSince counts the CPU a role's processes used, and descendants finds a child", async () => {
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    assert.deepEqual(descendants(Deno.pid).includes(child.pid), true);
    const done = cpuSince({ bench: [Deno.pid], idle: [child.pid], none: [] });
    const until = performance.now() + 300;
    let spin = 0;
    while (performance.now() < until) spin++; // 300 ms of this process's CPU
    const used = done();
    assert.ok(spin > 0);
    assert.ok(used.bench >= 200 && used.bench <= 1_000, `bench ${used.bench} ms`);
    assert.ok(used.idle < 50, `a sleeping process used ${used.idle} ms`);
    assert.equal(used.none, 0);
  } finally {
    child.kill();
    await child.status;
  }
  assert.ok(Number.isNaN(cpuMs(child.pid)), "a process that is gone reads as NaN");
});
