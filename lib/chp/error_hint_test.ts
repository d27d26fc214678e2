import assert from "node:assert/strict";
import {
  ConfigError,
  RouteTimeoutError,
  StoreError,
  TraefikNotFoundError,
} from "../core/errors.ts";
import { withFlagHint } from "./error_hint.ts";

Deno.test("withFlagHint adds the flag that fixes an error, and only then", () => {
  const timeout = new RouteTimeoutError("/user/a/", "served", 2_500);
  assert.equal(
    withFlagHint(timeout),
    `${timeout.message}: raise --check-route-timeout (now 2.5 s)`,
  );
  for (const missing of [new TraefikNotFoundError("/opt/traefik"), new TraefikNotFoundError()]) {
    assert.equal(
      withFlagHint(missing),
      `${missing.message} (the binary is set by --traefik-bin or TRAEFIK_BIN)`,
    );
  }
  for (const error of [new ConfigError("bad"), new StoreError("down"), new Error("other")]) {
    assert.equal(withFlagHint(error), error.message);
  }
  assert.equal(withFlagHint("text"), "text");
});
