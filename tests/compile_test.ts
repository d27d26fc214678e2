/**
 * `deno compile` needs a runtime (`denort`) that these machines cannot download; this test runs
 * only where DENORT_BIN points at one.
 */
import assert from "node:assert/strict";

const denort = Deno.env.get("DENORT_BIN");

Deno.test({
  name: "deno compile builds a binary that answers --help",
  ignore: !denort,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const out = `${dir}/jupyterhub-traefik-proxy`;
      const build = await new Deno.Command(Deno.execPath(), {
        args: ["compile", "--allow-all", "--output", out, "lib/cli.ts"],
        cwd: new URL("..", import.meta.url).pathname,
      }).output();
      assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
      const help = await new Deno.Command(out, { args: ["--help"] }).output();
      assert.equal(help.code, 0);
      assert.match(new TextDecoder().decode(help.stdout), /--default-target/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
