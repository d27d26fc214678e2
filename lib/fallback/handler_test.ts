import assert from "node:assert/strict";
import { fallbackHandler } from "./handler.ts";

Deno.test("fallbackHandler answers 502 for a route whose target no proxy can reach", async () => {
  const route = { routespec: "/user/a/", target: "https://[not-a-host", data: {} };
  const handler = fallbackHandler({ match: () => route }, {});
  const response = await handler(new Request("http://hub.example/user/a/"));
  assert.equal(response.status, 502);
  assert.match(await response.text(), /not a valid URL/);
});
