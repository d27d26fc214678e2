import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { main } from "./main.ts";
import { freeLoopbackPort } from "./ports.ts";

/** Runs `main`, capturing what it prints. */
async function run(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => void out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => void err.push(parts.join(" "));
  try {
    const code = await main(args, { env, stop: Promise.resolve() });
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("main: --version and --help print and exit 0", async () => {
  assert.deepEqual(await run(["--version"]), { code: 0, out: denoJson.version, err: "" });
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: jupyterhub-traefik-proxy/);
});

Deno.test("main: a startup error is one line saying what to do, and exit 1", async () => {
  const rows: [string[], RegExp][] = [
    [["--nope"], /^jupyterhub-traefik-proxy: unknown option --nope; see --help$/],
    [["--external-traefik"], /needs --traefik-api-url$/],
    [["--port", "99999"], /--port must be a port number/],
  ];
  for (const [args, message] of rows) {
    const { code, err } = await run(args);
    assert.equal(code, 1, args.join(" "));
    assert.match(err, message, args.join(" "));
  }
});

Deno.test("main: a missing traefik is reported with the flag that sets it", async () => {
  const { code, err } = await run([
    "--ip=127.0.0.1",
    `--port=${freeLoopbackPort()}`,
    `--api-port=${freeLoopbackPort()}`,
    "--traefik-bin=/nonexistent/traefik",
  ]);
  assert.equal(code, 1);
  assert.match(
    err,
    /traefik was not found at \/nonexistent\/traefik.*--traefik-bin or TRAEFIK_BIN\)$/,
  );
});
