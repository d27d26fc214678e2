import assert from "node:assert/strict";
import { ConfigError } from "../core/errors.ts";
import { checkFree, freeLoopbackPort } from "./ports.ts";

Deno.test("checkFree names the flag of an address in use", () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = listener.addr.port;
    assert.throws(
      () => checkFree({ hostname: "127.0.0.1", port, what: "--api-port" }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /^--api-port: 127\.0\.0\.1:\d+ is already in use; stop what/);
        return true;
      },
    );
  } finally {
    listener.close();
  }
});

Deno.test("checkFree accepts a free port, port 0 and a bracketed IPv6 loopback", () => {
  const port = freeLoopbackPort();
  checkFree({ hostname: "127.0.0.1", port, what: "--port" });
  checkFree({ hostname: "127.0.0.1", port: 0, what: "--port" });
  assert.throws(
    () => checkFree({ hostname: "256.1.1.1", port, what: "--metrics-ip" }),
    /^ConfigError: --metrics-ip: cannot listen on 256\.1\.1\.1/,
  );
});

Deno.test("freeLoopbackPort gives a port that can be listened on", () => {
  const port = freeLoopbackPort();
  assert.ok(port > 0 && port < 65536);
  Deno.listen({ hostname: "127.0.0.1", port }).close();
});
