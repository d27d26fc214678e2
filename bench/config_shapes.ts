/**
 * What traefik's rebuild costs for different shapes of the same routing table, written to its
 * file provider: with N routes loaded, the time until one more route is routable (as
 * bench/traefik_floor.ts), for each variant of what we write, and a CPU profile of traefik
 * (Go pprof through `api.debug`, on a private loopback entry point) during the reloads of the
 * shape we write. Writes bench/results/shapes.md. Run alone (not part of `deno task bench`):
 *
 *   deno run --allow-all bench/config_shapes.ts 10000
 *
 * @module
 */

import type { ConfigTree } from "../lib/core/types.ts";
import { traefikFloor } from "./traefik_floor.ts";

type Tree = Record<string, Record<string, Record<string, Record<string, unknown>>>>;

/** A variant of the file: its format and how it differs from what we write. */
export interface Shape {
  /** What the variant is. */
  name: string;
  /** The file's format. */
  format: "toml" | "yaml";
  /** The change to the configuration we write. */
  shape: (config: ConfigTree) => ConfigTree;
}

const same = (config: ConfigTree) => config;
const noPassHostHeader = (config: ConfigTree) => {
  for (const service of Object.values((config as Tree).http.services ?? {})) {
    delete (service.loadBalancer as { passHostHeader?: boolean }).passHostHeader;
  }
  return config;
};
const noObservability = (config: ConfigTree) => {
  for (const router of Object.values((config as Tree).http.routers)) {
    router.observability = { accessLogs: false, metrics: false, tracing: false };
  }
  return config;
};
const noRecords = (config: ConfigTree) => {
  const { jupyterhub: _records, ...rest } = config;
  return rest;
};

/** The variants measured. */
export const SHAPES: Shape[] = [
  { name: "as written (TOML, with the jupyterhub records)", format: "toml", shape: same },
  { name: "YAML", format: "yaml", shape: same },
  { name: "passHostHeader left to its default (true)", format: "toml", shape: noPassHostHeader },
  { name: "observability off on every router", format: "toml", shape: noObservability },
  { name: "without the jupyterhub records", format: "toml", shape: noRecords },
  {
    name: "all three",
    format: "toml",
    shape: (config) => noRecords(noObservability(noPassHostHeader(config))),
  },
];

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 10_000);
  const dir = new URL("./results/", import.meta.url).pathname;
  const rows: string[] = [];
  await Deno.mkdir(`${dir}raw`, { recursive: true });
  for (const [i, shape] of SHAPES.entries()) {
    const profile = i === 0 ? `${dir}raw/traefik_${n}.pprof` : undefined;
    const [result] = await traefikFloor([n], {
      format: shape.format,
      shape: shape.shape,
      samples: 5,
      profile,
    });
    rows.push(`| ${shape.name} | ${result.median.toFixed(0)} | ${result.max.toFixed(0)} |`);
    console.error(`${shape.name}: median ${result.median.toFixed(0)} ms`);
  }
  const top = await new Deno.Command("go", {
    args: ["tool", "pprof", "-top", "-nodecount=25", `${dir}raw/traefik_${n}.pprof`],
    stderr: "null",
  }).output().then((out) => new TextDecoder().decode(out.stdout)).catch(() => "(go missing)");
  const text = [
    `# traefik's rebuild for shapes of the same table (${n} routes, file provider)`,
    "",
    `- date: ${new Date().toISOString()}; bench/config_shapes.ts; 5 reloads each`,
    "",
    "| shape | one more route routable, median ms | max ms |",
    "| --- | --- | --- |",
    ...rows,
    "",
    "traefik's CPU profile during the reloads of the shape we write (`go tool pprof -top`):",
    "",
    "```text",
    top.trim(),
    "```",
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}shapes.md`, text);
  console.log(text);
}
