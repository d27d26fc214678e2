import assert from "node:assert/strict";
import { ConfigError } from "../core/errors.ts";
import { loadFlags, readConfigFile, readExtraConfig } from "./config_file.ts";

/** The tree as plain objects (the TOML parser makes null-prototype tables). */
const plain = (tree: unknown) => JSON.parse(JSON.stringify(tree));

Deno.test("readConfigFile parses TOML and YAML and names the flag when it cannot", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.toml`, 'provider = "redis"\n[log]\nlevel = "INFO"\n');
    await Deno.writeTextFile(`${dir}/a.yml`, "redis_url: redis://127.0.0.1:6379\n");
    await Deno.writeTextFile(`${dir}/bad.toml`, "= nope");
    await Deno.writeTextFile(`${dir}/a.txt`, "x = 1");
    assert.deepEqual(plain(await readConfigFile(`${dir}/a.toml`, "--config")), {
      provider: "redis",
      log: { level: "INFO" },
    });
    assert.deepEqual(await readConfigFile(`${dir}/a.yml`, "--config"), {
      redis_url: "redis://127.0.0.1:6379",
    });
    const rows: [string, RegExp][] = [
      [`${dir}/missing.toml`, /^--x .*missing\.toml cannot be read: /],
      [`${dir}/bad.toml`, /^--x .*bad\.toml: invalid TOML/],
      [`${dir}/a.txt`, /^--x .*a\.txt: cannot tell the format/],
    ];
    for (const [path, message] of rows) {
      await assert.rejects(readConfigFile(path, "--x"), (error: unknown) => {
        assert.ok(error instanceof ConfigError, path);
        assert.match(error.message, message, path);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadFlags reads the --config file named by argv or the environment, last", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/proxy.toml`;
    await Deno.writeTextFile(file, 'provider = "redis"\nport = 9000\nlog_level = "warn"\n');
    const fromArgv = await loadFlags(["--config", file, "--port", "8000"], {
      env: { JUPYTERHUB_TRAEFIK_LOG_LEVEL: "debug" },
    });
    assert.deepEqual(fromArgv.values, {
      config: file,
      port: 8000,
      "log-level": "debug",
      provider: "redis",
    });
    const fromEnv = await loadFlags([], { env: { JUPYTERHUB_TRAEFIK_CONFIG: file } });
    assert.equal(fromEnv.values.port, 9000);
    await assert.rejects(
      loadFlags([`--config=${dir}/none.toml`], { env: {} }),
      /--config .*none\.toml cannot be read/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readExtraConfig reads the extra static and dynamic configuration files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/s.toml`, "[accessLog]\n");
    await Deno.writeTextFile(`${dir}/d.yaml`, "http:\n  middlewares: {}\n");
    assert.deepEqual(
      plain(
        await readExtraConfig({
          extraStaticConfigFile: `${dir}/s.toml`,
          extraDynamicConfigFile: `${dir}/d.yaml`,
        }),
      ),
      { extraStaticConfig: { accessLog: {} }, extraDynamicConfig: { http: { middlewares: {} } } },
    );
    await assert.rejects(
      readExtraConfig({ extraStaticConfigFile: "/nonexistent.toml" }),
      /^ConfigError: --extra-static-config \/nonexistent\.toml cannot be read/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
