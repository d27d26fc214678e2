import assert from "node:assert/strict";
import { localActivity } from "./local_activity.ts";

Deno.test("localActivity refuses a file that is not its JSON, and leaves it alone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/routes.toml.activity.json`;
    await Deno.writeTextFile(path, "[1, 2]");
    await assert.rejects(
      localActivity({ path }).read(),
      /is not a JSON object of routes' activity/,
    );
    assert.equal(await Deno.readTextFile(path), "[1, 2]");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("localActivity skips entries that are not dates, and forgets a route on disk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/a.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({ "/a/": "2026-01-01T00:00:00.000Z", "/b/": "yesterday", "/c/": 3 }),
    );
    const sink = localActivity({ path });
    assert.deepEqual(await sink.read(), new Map([["/a/", "2026-01-01T00:00:00.000Z"]]));
    await sink.forget("/a/");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("localActivity reads the file again after a failed read, and saves after a failed save", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/a.json`;
    await Deno.writeTextFile(path, "not json");
    const sink = localActivity({ path });
    await assert.rejects(sink.read());
    await Deno.remove(path); // as the error says
    assert.deepEqual(await sink.read(), new Map());
    await Deno.mkdir(path); // a save cannot rename over a directory
    await assert.rejects(sink.raise(new Map([["/a/", "2026-01-01T00:00:00.000Z"]])));
    await Deno.remove(path);
    await sink.raise(new Map([["/b/", "2026-01-01T00:00:00.000Z"]]));
    assert.deepEqual(Object.keys(JSON.parse(await Deno.readTextFile(path))).sort(), ["/a/", "/b/"]);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((entry) => entry.name),
      ["a.json"],
      "no temp file left",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
