import assert from "node:assert/strict";
import { accessLogEntry } from "./access_log.ts";

Deno.test("accessLogEntry reads traefik's JSON lines and nothing else", () => {
  const cases: [string, ReturnType<typeof accessLogEntry>][] = [
    [
      '{"DownstreamStatus":200,"RouterName":"router__2Fa_2F@file","level":"info","msg":""}',
      { router: "router__2Fa_2F@file", status: 200 },
    ],
    // A websocket, logged when it closes.
    ['{"DownstreamStatus":0,"RouterName":"r@file"}', { router: "r@file", status: 0 }],
    // No router matched.
    ['{"DownstreamStatus":404,"level":"info"}', { router: "", status: 404 }],
    ['{"DownstreamStatus":"200","RouterName":"r@file"}', undefined],
    ['{"DownstreamStatus":200,"RouterName":', undefined],
    ['{"level":"warn","msg":"{\\"DownstreamStatus\\":200}"}', undefined],
    ["2026-12-06T06:41:52Z WRN Traefik can reject some encoded characters", undefined],
    ["", undefined],
  ];
  for (const [line, want] of cases) assert.deepEqual(accessLogEntry(line), want, line);
});
