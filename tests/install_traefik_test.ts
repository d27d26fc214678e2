import assert from "node:assert/strict";
import { installTraefik, TRAEFIK_VERSION, verifyChecksum } from "../lib/traefik/install.ts";
import { findTraefik } from "../lib/traefik/process.ts";

Deno.test("verifyChecksum accepts the published digest of the archive's name only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const archive = `${dir}/traefik_v3_linux_amd64.tar.gz`;
    await Deno.writeFile(archive, new TextEncoder().encode("release bytes"));
    const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(archive));
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const sums = `0000  other.tar.gz\n${hex}  traefik_v3_linux_amd64.tar.gz\n`;
    await verifyChecksum(archive, sums);
    await assert.rejects(verifyChecksum(archive, "0000  other.tar.gz\n"), /not listed/);
    await Deno.writeFile(archive, new TextEncoder().encode("tampered"));
    await assert.rejects(verifyChecksum(archive, sums), /does not match/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("installTraefik puts the pinned traefik where findTraefik finds it", async () => {
  const cache = await Deno.makeTempDir();
  try {
    const dir = `${cache}/jupyterhub-traefik-proxy-deno/traefik-${TRAEFIK_VERSION}`;
    const binary = await installTraefik({ dir });
    assert.equal(binary, `${dir}/traefik`);
    const out = await new Deno.Command(binary, { args: ["version"] }).output();
    assert.match(
      new TextDecoder().decode(out.stdout),
      new RegExp(TRAEFIK_VERSION.replaceAll(".", "\\.")),
    );
    // Found with nothing on PATH and no TRAEFIK_BIN (before the project's .tools/bin).
    assert.equal(await findTraefik({ env: { XDG_CACHE_HOME: cache, PATH: "" } }), binary);
    assert.equal(await installTraefik({ dir }), binary, "a second run keeps it");
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
