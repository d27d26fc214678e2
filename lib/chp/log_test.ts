import assert from "node:assert/strict";
import { createLogger } from "./log.ts";

Deno.test("createLogger writes from its level up, one JupyterHub-style line each", () => {
  const rows: [string, string[]][] = [
    ["debug", ["D", "I", "W", "E"]],
    ["info", ["I", "W", "E"]],
    ["WARN", ["W", "E"]],
    ["error", ["E"]],
    ["unknown", ["D", "I", "W", "E"]],
  ];
  for (const [level, written] of rows) {
    const lines: string[] = [];
    const log = createLogger(level, {
      write: (line) => lines.push(line),
      now: () => new Date("2024-05-06T07:08:09.123Z"),
    });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    assert.deepEqual(lines.map((line) => line[1]), written, level);
    assert.match(lines[0], /^\[[DIWE] 2024-05-06 07:08:09\.123 traefik-proxy\] [diwe]$/, level);
  }
});

Deno.test("createLogger with format json writes one object per line", () => {
  const lines: string[] = [];
  const log = createLogger("info", {
    write: (line) => lines.push(line),
    now: () => new Date("2026-12-06T04:00:00.000Z"),
    format: "json",
  });
  log.debug("hidden");
  log.warn('a "quoted"\nline');
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]), {
    time: "2026-12-06T04:00:00.000Z",
    level: "warn",
    logger: "traefik-proxy",
    message: 'a "quoted"\nline',
  });
});
