/**
 * The deployment recipes of the README ("Deployment recipes"): every block tagged
 * `<!-- recipe: NAME -->` is read from README.md and checked for how it fits together. The
 * proxy's arguments in each recipe go through the CLI's own `parseFlags` and `cliSettings`; ports,
 * selectors, secrets, the redis address and the hub's `api_url` must agree; the systemd unit goes
 * through `systemd-analyze`, the manifests through `kubernetes-validate` (offline schemas, from
 * PyPI into .tools/venv), and the proxy is started with the recipes' own arguments (addresses and
 * ports moved to loopback). Checks whose tool is missing are reported as ignored, with the reason
 * in their name.
 *
 * `DEPLOY_TEST_README=<file>` checks another copy of the README (to see a broken recipe fail).
 *
 * @module
 */

import assert from "node:assert/strict";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { FLAGS, parseFlags } from "../lib/chp/flags.ts";
import { type CliSettings, cliSettings } from "../lib/chp/settings.ts";
import { HEALTHZ_PATH } from "../lib/chp/instance_config.ts";
import { TRAEFIK_VERSION } from "../lib/traefik/install.ts";
import { freePort, waitFor } from "./helpers.ts";
import { startRedis } from "./stores.ts";
import { type Started, startProcess } from "./cli_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const README = Deno.env.get("DEPLOY_TEST_README") ?? `${ROOT}README.md`;
const VENV_BIN = `${ROOT}.tools/venv/bin/`;

// ---------------------------------------------------------------------------------------------
// The recipes

/** A fenced block of the README that follows `<!-- recipe: NAME -->`. */
interface Recipe {
  name: string;
  lang: string;
  body: string;
}

/** Every tagged block of `markdown`; a tag not followed by a fence, or a name twice, throws. */
function readRecipes(markdown: string): Map<string, Recipe> {
  const lines = markdown.split("\n");
  const found = new Map<string, Recipe>();
  for (let i = 0; i < lines.length; i++) {
    const tag = /^<!--\s*recipe:\s*([a-z0-9-]+)\s*-->\s*$/.exec(lines[i]);
    if (!tag) continue;
    const name = tag[1];
    let j = i + 1;
    while (j < lines.length && lines[j].trim() === "") j++;
    const fence = /^(```+)\s*([\w-]*)\s*$/.exec(lines[j] ?? "");
    if (!fence) throw new Error(`README.md:${i + 1}: recipe ${name} is not followed by a fence`);
    const end = lines.findIndex((line, k) => k > j && line.trimEnd() === fence[1]);
    if (end < 0) throw new Error(`README.md:${j + 1}: recipe ${name}'s block is not closed`);
    if (found.has(name)) throw new Error(`README.md:${i + 1}: recipe ${name} appears twice`);
    found.set(name, {
      name,
      lang: fence[2],
      body: lines.slice(j + 1, end).join("\n") + "\n",
    });
    i = end;
  }
  return found;
}

const RECIPES = readRecipes(await Deno.readTextFile(README));

/** The recipes the README must have, with the language of their block. */
const EXPECTED: Record<string, string> = {
  "dockerfile": "dockerfile",
  "image-build": "sh",
  "systemd-install": "sh",
  "systemd-unit": "ini",
  "systemd-jupyterhub-config": "python",
  "k8s-secrets": "sh",
  "k8s-manifests": "yaml",
  "k8s-jupyterhub-config": "python",
  "k8s-hub-env": "yaml",
  "z2jh-values": "yaml",
  "z2jh-values-replicas": "yaml",
};

function recipe(name: string): string {
  const found = RECIPES.get(name);
  if (!found) throw new Error(`README.md has no recipe ${name}`);
  return found.body;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to its end; never throws for a non-zero exit. */
async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The proxy's settings for `argv` and `env`, exactly as `main` builds them (no `--config`). */
function settingsOf(argv: string[], env: Record<string, string>): CliSettings {
  const { values, warnings } = parseFlags(argv, { env });
  assert.deepEqual(warnings, [], `flags without effect in ${argv.join(" ")}`);
  return cliSettings(values, { env });
}

/** Every `JUPYTERHUB_TRAEFIK_<OPTION>` variable must name an option (the CLI ignores others). */
function assertOptionVariables(env: Record<string, string>, where: string): void {
  for (const name of Object.keys(env)) {
    if (!name.startsWith("JUPYTERHUB_TRAEFIK_")) continue;
    const option = name.slice("JUPYTERHUB_TRAEFIK_".length).toLowerCase().replaceAll("_", "-");
    assert.ok(Object.hasOwn(FLAGS, option), `${where}: ${name} names no option`);
  }
}

/** host:port of a URL, with the scheme's default port. */
function hostPortOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  const defaults: Record<string, number> = { "http:": 80, "https:": 443, "redis:": 6379 };
  return { host: parsed.hostname, port: Number(parsed.port || defaults[parsed.protocol]) };
}

/** The `deno` tasks of deno.json, split into words. */
async function denoTask(name: string): Promise<string[]> {
  const json = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task = json.tasks?.[name];
  assert.equal(typeof task, "string", `deno.json has no task ${name}`);
  return (task as string).trim().split(/\s+/);
}

/** The command that runs this checkout's CLI with the permissions of `deno task start`. */
async function cliCommand(): Promise<string[]> {
  const words = await denoTask("start");
  assert.equal(words[0], "deno");
  return [Deno.execPath(), ...words.slice(1, -1), `${ROOT}${words.at(-1)}`];
}

/** A python with JupyterHub when there is one (.tools/venv), else `python3`. */
async function python(): Promise<string | undefined> {
  for (const candidate of [`${VENV_BIN}python3`, "python3"]) {
    try {
      const { code } = await run(candidate, ["-c", "pass"]);
      if (code === 0) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

const PYTHON = await python();

/**
 * Loads a jupyterhub_config.py as JupyterHub does (traitlets' PyFileConfigLoader) with `env`,
 * and names the settings that are no configurable trait of their class (when JupyterHub is
 * installed; otherwise the file is run against a stand-in `c` and `unknown` is null).
 */
function loadHubConfig(source: string, env: Record<string, string>): Promise<HubConfig> {
  // Importing JupyterHub takes python a second or two: each file and environment is loaded once.
  const key = JSON.stringify([source, env]);
  let loaded = hubConfigs.get(key);
  if (!loaded) hubConfigs.set(key, loaded = loadHubConfigOnce(source, env));
  return loaded;
}

interface HubConfig {
  config: Record<string, Record<string, unknown>>;
  unknown: string[] | null;
}

const hubConfigs = new Map<string, Promise<HubConfig>>();
// The directories of loads still running: a run that ends before them (one filtered to other
// tests) removes them as it exits, or they would stay in /tmp.
const loading = new Set<string>();
globalThis.addEventListener("unload", () => {
  for (const dir of loading) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // gone already
    }
  }
});

async function loadHubConfigOnce(source: string, env: Record<string, string>): Promise<HubConfig> {
  assert.ok(PYTHON, "no python3");
  const dir = await Deno.makeTempDir({ prefix: "jhtp-deploy-py-" });
  loading.add(dir);
  try {
    await Deno.writeTextFile(`${dir}/jupyterhub_config.py`, source);
    const script = `
import json, os, sys
path = sys.argv[1]
try:
    from traitlets.config.loader import PyFileConfigLoader
except ImportError:
    PyFileConfigLoader = None
if PyFileConfigLoader:
    loaded = PyFileConfigLoader(os.path.basename(path), os.path.dirname(path)).load_config()
    config = {section: dict(values) for section, values in loaded.items()}
else:
    class Section(dict):
        def __setattr__(self, name, value):
            self[name] = value
    class Config(dict):
        def __getattr__(self, name):
            return self.setdefault(name, Section())
    c = Config()
    exec(compile(open(path).read(), path, "exec"), {"c": c, "__name__": "__main__"})
    config = c
unknown = None
try:
    from jupyterhub.app import JupyterHub
    from jupyterhub.proxy import ConfigurableHTTPProxy
    classes = {"JupyterHub": JupyterHub, "ConfigurableHTTPProxy": ConfigurableHTTPProxy}
    unknown = [
        section + "." + name
        for section, values in config.items()
        for name in values
        if section not in classes or name not in classes[section].class_traits(config=True)
    ]
except ImportError:
    pass
json.dump({"config": config, "unknown": unknown}, sys.stdout)
`;
    const out = await run(PYTHON, ["-c", script, `${dir}/jupyterhub_config.py`], {
      env: { ...env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout);
  } finally {
    loading.delete(dir);
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes objects, as far as the checks read them

interface SecretKeyRef {
  name: string;
  key: string;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: SecretKeyRef };
}
interface ContainerPort {
  name?: string;
  containerPort: number;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: ContainerPort[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: { readOnlyRootFilesystem?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: { containers: Container[]; volumes?: { name: string; emptyDir?: unknown }[] };
}
interface ServicePort {
  name?: string;
  port: number;
  targetPort?: string | number;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    type?: string;
    replicas?: number;
    serviceName?: string;
    selector?: Record<string, string> & { matchLabels?: Record<string, string> };
    template?: PodTemplate;
    ports?: ServicePort[];
  };
}

const WORKLOADS = ["Deployment", "StatefulSet", "DaemonSet"];

/** The documents of a multi-document YAML text; a parse error throws. */
function yamlDocuments(text: string): unknown[] {
  return parseAllDocuments(text).map((doc, i) => {
    if (doc.errors.length) throw new Error(`document ${i + 1}: ${doc.errors[0].message}`);
    return doc.toJS();
  });
}

function manifests(): Manifest[] {
  return yamlDocuments(recipe("k8s-manifests")) as Manifest[];
}

function byKind(all: Manifest[], kind: string): Manifest[] {
  return all.filter((m) => m.kind === kind);
}

function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The secrets `kubectl create secret generic NAME --from-literal=KEY=...` creates. */
function createdSecrets(script: string): Map<string, Set<string>> {
  const secrets = new Map<string, Set<string>>();
  for (const line of script.split("\n")) {
    const secret = /kubectl create secret generic ([a-z0-9.-]+)/.exec(line);
    if (!secret) continue;
    const keys = [...line.matchAll(/--from-literal=([A-Za-z0-9._-]+)=/g)].map((m) => m[1]);
    assert.ok(keys.length > 0, `secret ${secret[1]} has no key`);
    secrets.set(secret[1], new Set(keys));
  }
  return secrets;
}

/** The value a test gives to a secret's key. */
function secretValue(ref: SecretKeyRef): string {
  return `test-${ref.name}-${ref.key}`.replace(/[^A-Za-z0-9-]/g, "-");
}

/**
 * A container's environment as the kubelet builds it: literal values, and secret keys (each one
 * the k8s-secrets recipe creates) with the values `value` gives them.
 */
function containerEnv(
  container: Container,
  secrets: Map<string, Set<string>>,
  value: (ref: SecretKeyRef) => string = secretValue,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    const ref = entry.valueFrom?.secretKeyRef;
    if (ref) {
      assert.ok(
        secrets.get(ref.name)?.has(ref.key),
        `${container.name}: env ${entry.name} needs secret ${ref.name}/${ref.key}, not created`,
      );
      env[entry.name] = value(ref);
    } else {
      assert.equal(typeof entry.value, "string", `${container.name}: env ${entry.name}`);
      env[entry.name] = entry.value as string;
    }
  }
  return env;
}

/** `$(VAR)` references in args, expanded from the container's environment as the kubelet does. */
function expand(args: string[], env: Record<string, string>): string[] {
  return args.map((arg) =>
    arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name) => env[name] ?? whole)
  );
}

/** A container port by name or number. */
function containerPort(container: Container, port: string | number): number {
  const found = (container.ports ?? []).find((p) =>
    typeof port === "number" ? p.containerPort === port : p.name === port
  );
  assert.ok(found, `container ${container.name} has no port ${port}`);
  return found.containerPort;
}

/** The image the recipes build (`docker build -t IMAGE`). */
function builtImage(): string {
  const tag = /docker build -t (\S+)/.exec(recipe("image-build"));
  assert.ok(tag, "image-build: no docker build -t");
  return tag[1];
}

/** The proxy's containers: those running the built image. */
function proxyContainers(all: Manifest[]): { workload: Manifest; container: Container }[] {
  const found = [];
  for (const workload of all.filter((m) => WORKLOADS.includes(m.kind))) {
    for (const container of workload.spec.template?.spec.containers ?? []) {
      if (container.image === builtImage()) found.push({ workload, container });
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile

interface DockerStage {
  from: string;
  name?: string;
  workdir: string;
  /** COPY instructions: the stage copied from (none: the build context), sources, destination. */
  copies: { from?: string; sources: string[]; dest: string }[];
  runs: string[];
  entrypoint?: string[];
}

function dockerStages(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [instruction, ...rest] = line.split(/\s+/);
    const stage = stages.at(-1);
    switch (instruction.toUpperCase()) {
      case "FROM": {
        const [from, as, name] = rest;
        stages.push({
          from,
          name: as?.toUpperCase() === "AS" ? name : undefined,
          workdir: "/",
          copies: [],
          runs: [],
        });
        break;
      }
      case "WORKDIR":
        assert.ok(stage);
        stage.workdir = rest[0].endsWith("/") ? rest[0] : `${rest[0]}/`;
        break;
      case "COPY": {
        assert.ok(stage);
        const from = rest[0].startsWith("--from=") ? rest.shift()!.slice(7) : undefined;
        stage.copies.push({ from, sources: rest.slice(0, -1), dest: rest.at(-1)! });
        break;
      }
      case "RUN":
        stage?.runs.push(rest.join(" "));
        break;
      case "ENTRYPOINT":
        assert.ok(stage);
        stage.entrypoint = JSON.parse(rest.join(" "));
        break;
    }
  }
  return stages;
}

/** Where the final image has the proxy binary, and what it links to it. */
function imageLayout(): { binary: string; links: Map<string, string>; traefik: string } {
  const stages = dockerStages(recipe("dockerfile"));
  const final = stages.at(-1)!;
  const build = stages.find((s) => s.runs.some((r) => r.includes("deno task compile")));
  assert.ok(build?.name, "dockerfile: no named stage runs deno task compile");
  const binaryCopy = final.copies.find((c) => c.from === build.name);
  assert.ok(binaryCopy, "dockerfile: the final stage copies nothing from the build stage");
  const traefikStage = stages.find((s) => s.from.startsWith("traefik:"));
  const traefikCopy = final.copies.find((c) => c.from === traefikStage?.name);
  assert.ok(traefikCopy, "dockerfile: the final stage copies no traefik");
  const links = new Map<string, string>();
  for (const cmd of final.runs) {
    const link = /^ln -s (\S+) (\S+)$/.exec(cmd);
    if (!link) continue;
    const target = link[1].startsWith("/") ? link[1] : link[2].replace(/[^/]*$/, "") + link[1];
    links.set(link[2], target);
  }
  return { binary: binaryCopy.dest, links, traefik: traefikCopy.dest };
}

// ---------------------------------------------------------------------------------------------
// The systemd unit

/** Sections of a unit file: key/value pairs in order (continuation lines joined as systemd). */
function unitSections(text: string): Map<string, [string, string][]> {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  const joined = text.replace(/\\\n/g, " ");
  for (const raw of joined.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = [];
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(current && eq > 0, `unit line outside a section or without '=': ${line}`);
    current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return sections;
}

function unitValues(unit: Map<string, [string, string][]>, section: string, key: string) {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

function unitValue(unit: Map<string, [string, string][]>, section: string, key: string): string {
  const values = unitValues(unit, section, key);
  assert.equal(values.length, 1, `[${section}] ${key}= should be given once`);
  return values[0];
}

/** The unit's ExecStart as argv: plain words only, so that splitting on blanks is exact. */
function execStart(unit: Map<string, [string, string][]>): string[] {
  const line = unitValue(unit, "Service", "ExecStart");
  assert.doesNotMatch(line, /["'%$\\;]/, "ExecStart: quotes, specifiers, variables: keep it plain");
  return line.split(/\s+/);
}

function systemdUnit() {
  return unitSections(recipe("systemd-unit"));
}

/** The variables the unit's `Environment=` lines set. */
function unitEnvironment(unit: Map<string, [string, string][]>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const assignment of unitValues(unit, "Service", "Environment")) {
    for (const word of assignment.split(/\s+/)) {
      const eq = word.indexOf("=");
      env[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  return env;
}

/** The token a test puts in the unit's EnvironmentFile. */
const SYSTEMD_TOKEN = "from-the-environment-file";

/** The settings of the unit's ExecStart, with a token from its EnvironmentFile. */
function systemdSettings(): { argv: string[]; settings: CliSettings; env: Record<string, string> } {
  const unit = systemdUnit();
  const argv = execStart(unit).slice(1);
  const env = { ...unitEnvironment(unit), CONFIGPROXY_AUTH_TOKEN: SYSTEMD_TOKEN };
  return { argv, env, settings: settingsOf(argv, env) };
}

// ---------------------------------------------------------------------------------------------
// Zero to JupyterHub

/**
 * What the jupyterhub chart's templates/proxy/deployment.yaml (4.4.0, and its main branch as of
 * July 2026) runs in the proxy pod, by case: the command, the arguments before
 * `proxy.chp.extraCommandLineFlags`, and the container ports. `$(HUB_SERVICE_PORT)` is the
 * kubelet's variable for the chart's `hub` Service, port 8081 (templates/hub/service.yaml).
 */
const Z2JH = {
  command: "configurable-http-proxy",
  env: { HUB_SERVICE_PORT: "8081" },
  common: [
    "--ip=",
    "--api-ip=",
    "--api-port=8001",
    "--default-target=http://hub:$(HUB_SERVICE_PORT)",
    "--error-target=http://hub:$(HUB_SERVICE_PORT)/hub/error",
  ],
  cases: {
    "http": ["--port=8000"],
    "https manual": [
      "--port=8443",
      "--redirect-port=8000",
      "--redirect-to=443",
      "--ssl-key=/etc/chp/tls/tls.key",
      "--ssl-cert=/etc/chp/tls/tls.crt",
    ],
    "http, debug and subdomain_host": ["--port=8000", "--log-level=debug", "--host-routing"],
  } as Record<string, string[]>,
  ports: { http: 8000, https: 8443, api: 8001 },
  /** Keys the chart's values.schema.yaml (4.4.0) allows where additionalProperties is false. */
  schema: {
    "": words(
      "cull custom debug enabled fullnameOverride global httpRoute hub imagePullSecret " +
        "imagePullSecrets ingress nameOverride prePuller proxy rbac scheduling singleuser",
    ),
    "proxy": words(
      "annotations chp deploymentStrategy https labels secretSync secretToken service traefik",
    ),
    "proxy.chp": words(
      "containerSecurityContext defaultTarget errorTarget extraCommandLineFlags extraEnv " +
        "extraPodSpec image livenessProbe networkPolicy nodeSelector pdb readinessProbe " +
        "resources revisionHistoryLimit tolerations",
    ),
    "proxy.chp.image": words("name pullPolicy pullSecrets tag"),
    "proxy.service": words(
      "annotations disableHttpPort externalIPs extraPorts ipFamilies ipFamilyPolicy labels " +
        "loadBalancerIP loadBalancerSourceRanges nodePorts type",
    ),
  } as Record<string, string[]>,
};

function words(text: string): string[] {
  return text.split(" ");
}

type Values = Record<string, unknown>;

/** Keys of `values` that chart 4.4.0's schema refuses. */
function unknownChartKeys(values: unknown, path = ""): string[] {
  if (typeof values !== "object" || values === null || Array.isArray(values)) return [];
  const allowed = Z2JH.schema[path];
  const wrong: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const at = path ? `${path}.${key}` : key;
    if (allowed && !allowed.includes(key)) wrong.push(at);
    // hub.config: any Configurable class name (capitalised), contents free.
    if (path === "hub.config") {
      if (!/^[A-Z]/.test(key)) wrong.push(at);
      continue;
    }
    wrong.push(...unknownChartKeys(value, at));
  }
  return wrong;
}

/** The hub container's environment (the k8s-hub-env recipe), with the test's secret values. */
function k8sHubEnv(): Record<string, string> {
  return containerEnv(
    { name: "hub", image: "hub", env: parseYaml(recipe("k8s-hub-env")) as EnvVar[] },
    createdSecrets(recipe("k8s-secrets")),
  );
}

// Both hub configs start loading now, side by side (python imports JupyterHub for each); the
// tests that read them report any error.
if (PYTHON) {
  for (
    const load of [
      () =>
        loadHubConfig(recipe("systemd-jupyterhub-config"), {
          CONFIGPROXY_AUTH_TOKEN: SYSTEMD_TOKEN,
        }),
      () => loadHubConfig(recipe("k8s-jupyterhub-config"), k8sHubEnv()),
    ]
  ) {
    try {
      load().catch(() => {});
    } catch {
      // reported by the test
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Static checks

Deno.test("README: every recipe tag is followed by its block, and every recipe is there", () => {
  assert.deepEqual(
    Object.fromEntries([...RECIPES.values()].map((r) => [r.name, r.lang])),
    EXPECTED,
  );
  for (const r of RECIPES.values()) assert.ok(r.body.trim(), `recipe ${r.name} is empty`);
});

Deno.test("the test shim and the README's JupyterHub command run the CLI as deno task start does", async () => {
  const start = await denoTask("start");
  const flags = start.slice(2, -1); // between "deno run" and lib/cli.ts
  // tests/bin/configurable-http-proxy: `exec "$deno" run --quiet <flags> "$root/lib/cli.ts" "$@"`
  const shim = (await Deno.readTextFile(`${ROOT}tests/bin/configurable-http-proxy`))
    .replaceAll("\\\n", " ");
  const line = /exec "\$deno" run (.*) "\$root\/lib\/cli\.ts"/.exec(shim);
  assert.ok(line, "the shim runs lib/cli.ts with deno run");
  assert.deepEqual(line[1].trim().split(/\s+/).filter((w) => w !== "--quiet"), flags);
  // README: `c.ConfigurableHTTPProxy.command = [...]`, Python's adjacent strings joined.
  const readme = await Deno.readTextFile(README);
  const list = /c\.ConfigurableHTTPProxy\.command = \[([^\]]*)\]/.exec(readme);
  assert.ok(list, "the README shows c.ConfigurableHTTPProxy.command");
  const words = [...list[1].replace(/#.*$/gm, "").replace(/"\s*\n\s*"/g, "").matchAll(/"([^"]*)"/g)]
    .map((m) => m[1]);
  assert.deepEqual(
    words.slice(words.indexOf("run") + 1, words.indexOf("/path/to/lib/cli.ts")),
    flags,
  );
});

Deno.test("image: the Dockerfile builds this checkout's binary and pins the proxy's traefik", async () => {
  const stages = dockerStages(recipe("dockerfile"));
  const build = stages.find((s) => s.runs.includes("deno task compile"));
  assert.ok(build, "no stage runs deno task compile");
  // Everything lib/cli.ts loads (deno.json included) is copied into the build stage.
  const info = await run(Deno.execPath(), ["info", "--json", "lib/cli.ts"], { cwd: ROOT });
  assert.equal(info.code, 0, info.stderr);
  const local = (JSON.parse(info.stdout).modules as { specifier: string }[])
    .map((m) => m.specifier)
    .filter((s) => s.startsWith("file://"))
    .map((s) => new URL(s).pathname.slice(ROOT.length));
  const copied = build.copies.filter((c) => !c.from).flatMap((c) => c.sources);
  for (const source of copied) assert.ok(await exists(`${ROOT}${source}`), `COPY ${source}`);
  for (const file of [...local, "deno.lock"]) {
    assert.ok(
      copied.some((source) => source.endsWith("/") ? file.startsWith(source) : file === source),
      `the build stage does not copy ${file}, which lib/cli.ts needs`,
    );
  }
  // The compiled binary has the permissions and flags of `deno task start`.
  const compile = await denoTask("compile");
  const output = compile[compile.indexOf("--output") + 1];
  const start = await denoTask("start");
  assert.deepEqual(
    compile.filter((w, i) => w !== "--output" && compile[i - 1] !== "--output").slice(2),
    start.slice(2),
  );
  // The final stage takes the binary from where the task writes it.
  const final = stages.at(-1)!;
  const fromBuild = final.copies.find((c) => c.from === build.name);
  assert.deepEqual(fromBuild?.sources, [`${build.workdir}${output}`]);
  // traefik: the version the proxy installs and expects.
  const traefik = stages.find((s) => s.from.startsWith("traefik:"));
  assert.equal(traefik?.from, `traefik:v${TRAEFIK_VERSION}`);
  const { binary, links, traefik: traefikPath } = imageLayout();
  assert.deepEqual(final.entrypoint, [binary]);
  // The proxy finds traefik on PATH or beside itself.
  assert.equal(traefikPath, binary.replace(/[^/]*$/, "traefik"));
  assert.equal(links.get(`/usr/local/bin/${Z2JH.command}`), binary, "z2jh's command name");
  // The systemd install takes the same binary and the same traefik.
  const install = recipe("systemd-install");
  assert.ok(install.includes(`install -m 0755 ${output} /usr/local/bin/`));
  assert.ok(install.includes(`/traefik-${TRAEFIK_VERSION}/traefik /usr/local/bin/`));
});

Deno.test("systemd: ExecStart is accepted by the CLI, the token comes from the EnvironmentFile", () => {
  const unit = systemdUnit();
  const [binary] = execStart(unit);
  const install = recipe("systemd-install");
  const installed = /install -m 0755 (\S+) (\/usr\/local\/bin\/)\n/.exec(install);
  assert.ok(installed, "systemd-install installs no binary");
  assert.equal(binary, installed[2] + installed[1].split("/").at(-1));
  const { settings } = systemdSettings();
  assert.equal(settings.authToken, SYSTEMD_TOKEN);
  assert.equal(settings.provider.kind, "file");
  // The token is never in the unit itself, only in the EnvironmentFile the install writes.
  for (const [section, pairs] of unit) {
    for (const [key, value] of pairs) {
      assert.doesNotMatch(value, /CONFIGPROXY_AUTH_TOKEN/, `[${section}] ${key}= has the token`);
    }
  }
  const envFile = unitValue(unit, "Service", "EnvironmentFile");
  assert.ok(install.includes(`CONFIGPROXY_AUTH_TOKEN=%s\\n`) && install.includes(envFile));
  assert.match(install, /umask 077/);
  // The routes file is in the state directory, which systemd creates for the unit's user.
  const state = unitValue(unit, "Service", "StateDirectory");
  assert.ok(
    settings.provider.kind === "file" &&
      settings.provider.path?.startsWith(`/var/lib/${state}/`),
    "--dynamic-config-file is not under /var/lib/<StateDirectory>/",
  );
  // traefik: the one the install puts there.
  assert.equal(unitEnvironment(unit).TRAEFIK_BIN, "/usr/local/bin/traefik");
  // Hardening.
  const service = Object.fromEntries(unit.get("Service") ?? []);
  assert.ok(service.DynamicUser === "yes" || service.User, "no DynamicUser= or User=");
  for (
    const [key, value] of Object.entries({
      Restart: "on-failure",
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      PrivateTmp: "yes",
      CapabilityBoundingSet: "",
    })
  ) {
    assert.equal(service[key], value, `${key}=`);
  }
  assert.equal(service.MemoryDenyWriteExecute, undefined, "V8 needs writable code memory");
  assert.deepEqual(unitValues(unit, "Install", "WantedBy"), ["multi-user.target"]);
});

Deno.test({
  name: "systemd: the hub's config reaches the unit's API with the token, and starts no proxy",
  ignore: !PYTHON,
  async fn() {
    const { argv, settings } = systemdSettings();
    const { config, unknown } = await loadHubConfig(recipe("systemd-jupyterhub-config"), {
      CONFIGPROXY_AUTH_TOKEN: SYSTEMD_TOKEN,
    });
    if (unknown) assert.deepEqual(unknown, [], "settings JupyterHub does not have");
    const proxy = config.ConfigurableHTTPProxy;
    assert.equal(proxy.should_start, false);
    assert.equal(proxy.auth_token, SYSTEMD_TOKEN);
    assert.ok("hostname" in settings.api, "the API is on a unix socket");
    assert.deepEqual(hostPortOf(proxy.api_url as string), {
      host: settings.api.hostname,
      port: settings.api.port,
    });
    // The hub's public URL is the proxy's public port; its error pages are where the hub is.
    // (JupyterHub writes "all interfaces" as an empty host, which URL refuses: read the port.)
    assert.equal(/^https?:\/\/[^/]*:(\d+)/.exec(config.JupyterHub.bind_url as string)?.[1], "8000");
    assert.equal(settings.publicAddress, ":8000");
    assert.ok(
      settings.errorTarget?.startsWith(`${config.JupyterHub.hub_bind_url}/`),
      `--error-target ${settings.errorTarget} is not the hub's (${argv.join(" ")})`,
    );
  },
});

Deno.test("k8s: every manifest parses and has apiVersion, kind and metadata.name", () => {
  const all = manifests();
  assert.ok(all.length >= 5);
  const names = new Set<string>();
  for (const [i, m] of all.entries()) {
    assert.ok(m && typeof m === "object", `document ${i + 1} is empty`);
    assert.match(String(m.apiVersion), /^([a-z.]+\/)?v\d/, `document ${i + 1}: apiVersion`);
    assert.match(String(m.kind), /^[A-Z]\w+$/, `document ${i + 1}: kind`);
    assert.match(String(m.metadata?.name), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    const id = `${m.kind}/${m.metadata.name}`;
    assert.ok(!names.has(id), `${id} twice`);
    names.add(id);
  }
  for (const doc of yamlDocuments(recipe("z2jh-values"))) assert.ok(doc);
  assert.ok(Array.isArray(parseYaml(recipe("k8s-hub-env"))));
});

Deno.test("k8s: the proxy containers' arguments are accepted by the CLI, with their env", () => {
  const all = manifests();
  const secrets = createdSecrets(recipe("k8s-secrets"));
  const proxies = proxyContainers(all);
  assert.ok(proxies.length > 0, "no container runs the built image");
  const { binary } = imageLayout();
  for (const { workload, container } of proxies) {
    const where = `${workload.kind}/${workload.metadata.name}`;
    assert.deepEqual(container.command, [binary], `${where}: the image's binary`);
    const env = containerEnv(container, secrets);
    assertOptionVariables(env, where);
    const settings = settingsOf(expand(container.args ?? [], env), env);
    // The token comes from a Secret, never a literal in the manifest.
    const token = container.env?.find((e) => e.name === "CONFIGPROXY_AUTH_TOKEN");
    assert.ok(token?.valueFrom?.secretKeyRef, `${where}: CONFIGPROXY_AUTH_TOKEN from a Secret`);
    assert.equal(settings.authToken, secretValue(token.valueFrom.secretKeyRef));
    assert.ok(!settings.external, "each pod starts its own traefik");
    // Reachable from other pods: all interfaces.
    assert.equal(settings.publicAddress, `:${containerPort(container, "http")}`);
    assert.deepEqual(settings.api, { hostname: "0.0.0.0", port: containerPort(container, "api") });
    // Replicas share the table only through a store.
    if ((workload.spec.replicas ?? 1) > 1) assert.notEqual(settings.provider.kind, "file");
    // A read-only root: the private work directory (under TMPDIR, /tmp) needs a volume.
    if (container.securityContext?.readOnlyRootFilesystem) {
      const tmp = container.volumeMounts?.find((v) => v.mountPath === "/tmp");
      assert.ok(tmp, `${where}: read-only root without a volume on /tmp`);
      assert.ok(
        workload.spec.template?.spec.volumes?.some((v) => v.name === tmp.name && v.emptyDir),
      );
    }
  }
});

Deno.test("k8s: ports, selectors, probes, secrets and the redis address agree", () => {
  const all = manifests();
  const secrets = createdSecrets(recipe("k8s-secrets"));
  const workloads = all.filter((m) => WORKLOADS.includes(m.kind));
  const services = byKind(all, "Service");
  // Every workload's selector selects its own pods; every Service selects exactly one workload,
  // and each of its ports reaches a container port of it.
  for (const w of workloads) {
    assert.ok(labelsMatch(w.spec.selector?.matchLabels ?? {}, w.spec.template!.metadata.labels));
  }
  const target = new Map<string, Manifest>();
  for (const service of services) {
    const selected = workloads.filter((w) =>
      labelsMatch(service.spec.selector ?? {}, w.spec.template!.metadata.labels)
    );
    assert.equal(selected.length, 1, `Service/${service.metadata.name} selects one workload`);
    target.set(service.metadata.name, selected[0]);
    for (const port of service.spec.ports ?? []) {
      const containers = selected[0].spec.template!.spec.containers;
      const reached = containers.filter((c) =>
        (c.ports ?? []).some((p) =>
          typeof port.targetPort === "string"
            ? p.name === port.targetPort
            : p.containerPort === (port.targetPort ?? port.port)
        )
      );
      assert.equal(reached.length, 1, `Service/${service.metadata.name} port ${port.port}`);
    }
  }
  for (const set of byKind(all, "StatefulSet")) {
    assert.ok(target.get(set.spec.serviceName ?? "") === set, "serviceName names its Service");
  }
  for (const pdb of byKind(all, "PodDisruptionBudget")) {
    const selected = workloads.filter((w) =>
      labelsMatch(pdb.spec.selector?.matchLabels ?? {}, w.spec.template!.metadata.labels)
    );
    assert.equal(selected.length, 1, `PodDisruptionBudget/${pdb.metadata.name}`);
  }

  const [{ workload, container }] = proxyContainers(all);
  assert.equal(workload.kind, "Deployment");
  assert.ok((workload.spec.replicas ?? 1) >= 2, "two replicas");
  const env = containerEnv(container, secrets);
  const args = expand(container.args ?? [], env);
  const settings = settingsOf(args, env);
  const { values } = parseFlags(args, { env });
  // Every container port is one the flags open, and the reverse.
  const flagPorts = new Map<number, string>([
    [containerPort(container, "http"), "--port"],
    [containerPort(container, "api"), "--api-port"],
  ]);
  assert.equal(settings.publicAddress, `:${containerPort(container, "http")}`);
  if (values["metrics-port"] !== undefined) flagPorts.set(values["metrics-port"], "--metrics-port");
  assert.deepEqual(
    new Set((container.ports ?? []).map((p) => p.containerPort)),
    new Set(flagPorts.keys()),
  );
  // The probes ask the public port for the proxy's healthz, which needs no token.
  for (const probe of [container.readinessProbe, container.livenessProbe]) {
    assert.ok(probe?.httpGet, "an HTTP probe");
    assert.equal(probe.httpGet.path, HEALTHZ_PATH);
    assert.equal(containerPort(container, probe.httpGet.port), containerPort(container, "http"));
  }
  // The API listens only once the proxy has started, after healthz already answers: a pod is
  // ready (and gets the hub's calls) only once a startup probe has found the API's port open.
  const startup = container.startupProbe?.tcpSocket;
  assert.ok(startup, "a TCP startup probe");
  assert.equal(containerPort(container, startup.port), containerPort(container, "api"));
  // The public Service: port 80 to the public port; the API Service: 8001 to the REST API.
  const proxyServices = services.filter((s) => target.get(s.metadata.name) === workload);
  const servicePort = (port: number) =>
    proxyServices.flatMap((s) =>
      (s.spec.ports ?? []).filter((p) => p.port === port).map((p) => ({ service: s, p }))
    );
  const [publicPort] = servicePort(80);
  assert.ok(publicPort, "a Service with port 80");
  assert.equal(publicPort.service.spec.type, "LoadBalancer");
  assert.equal(
    containerPort(container, publicPort.p.targetPort ?? 80),
    containerPort(container, "http"),
  );
  const [apiPort] = servicePort(8001);
  assert.ok(apiPort, "a Service with port 8001");
  assert.ok("port" in settings.api);
  assert.equal(containerPort(container, apiPort.p.targetPort ?? 8001), settings.api.port);
  assert.ok(apiPort.service !== publicPort.service, "the API has a Service of its own");

  // redis: the URL names the redis Service and its port; the password is redis's own.
  assert.equal(settings.provider.kind, "redis");
  assert.ok(settings.provider.kind === "redis" && settings.provider.url);
  const redisAt = hostPortOf(settings.provider.url);
  const redisService = services.find((s) => s.metadata.name === redisAt.host);
  assert.ok(redisService, `no Service ${redisAt.host} for --redis-url`);
  const redisPort = (redisService.spec.ports ?? []).find((p) => p.port === redisAt.port);
  assert.ok(redisPort, `Service ${redisAt.host} has no port ${redisAt.port}`);
  const redis = target.get(redisAt.host)!;
  const redisContainer = redis.spec.template!.spec.containers[0];
  assert.equal(
    containerPort(redisContainer, redisPort.targetPort ?? redisPort.port),
    6379,
    "redis listens on 6379 (no --port in its args)",
  );
  const redisEnv = containerEnv(redisContainer, secrets);
  const redisArgs = expand(redisContainer.args ?? [], redisEnv);
  const requirepass = redisArgs[redisArgs.indexOf("--requirepass") + 1];
  assert.ok(settings.provider.password, "the proxy has redis's password");
  assert.equal(settings.provider.password, requirepass, "the proxy's redis password is redis's");
  assert.equal(redisArgs[redisArgs.indexOf("--appendonly") + 1], "yes");
  const readiness = redisContainer.readinessProbe?.tcpSocket;
  assert.ok(readiness, "redis: a TCP readiness probe");
  assert.equal(containerPort(redisContainer, readiness.port), 6379);

  // The error pages come from the hub's Service (the hub config's hub_connect_url, below).
  assert.equal(settings.errorTarget, "http://hub:8081/hub/error");
});

Deno.test({
  name: "k8s: the hub reaches the API Service with the proxy's token, and starts no proxy",
  ignore: !PYTHON,
  async fn() {
    const all = manifests();
    const secrets = createdSecrets(recipe("k8s-secrets"));
    const [{ workload, container }] = proxyContainers(all);
    const env = containerEnv(container, secrets);
    const settings = settingsOf(expand(container.args ?? [], env), env);
    // The hub container's token is the proxy's.
    const hubEnv = k8sHubEnv();
    assert.equal(hubEnv.CONFIGPROXY_AUTH_TOKEN, settings.authToken);
    const { config, unknown } = await loadHubConfig(recipe("k8s-jupyterhub-config"), hubEnv);
    if (unknown) assert.deepEqual(unknown, [], "settings JupyterHub does not have");
    const proxy = config.ConfigurableHTTPProxy;
    assert.equal(proxy.should_start, false);
    assert.equal(proxy.auth_token, settings.authToken);
    // api_url: a Service that selects the proxy pods, on a port that reaches the REST API.
    const { host, port } = hostPortOf(proxy.api_url as string);
    const service = byKind(all, "Service").find((s) => s.metadata.name === host);
    assert.ok(service, `api_url names no Service: ${proxy.api_url}`);
    assert.ok(labelsMatch(service.spec.selector ?? {}, workload.spec.template!.metadata.labels));
    const servicePort = service.spec.ports?.find((p) => p.port === port);
    assert.ok(servicePort, `Service ${host} has no port ${port}`);
    assert.ok("port" in settings.api);
    assert.equal(containerPort(container, servicePort.targetPort ?? port), settings.api.port);
    assert.ok(settings.errorTarget?.startsWith(`${config.JupyterHub.hub_connect_url}/`));
  },
});

Deno.test("z2jh: the chart's proxy arguments with these values are accepted by the CLI", () => {
  const values = parseYaml(recipe("z2jh-values")) as Values;
  assert.deepEqual(unknownChartKeys(values), [], "keys chart 4.4.0's schema refuses");
  const chp = (values.proxy as Values).chp as Values;
  const image = chp.image as { name: string; tag: string };
  assert.equal(typeof image.tag, "string", "the tag is a string");
  assert.equal(`${image.name}:${image.tag}`, builtImage());
  // The image has the command the chart runs.
  const { binary, links } = imageLayout();
  assert.equal(links.get(`/usr/local/bin/${Z2JH.command}`), binary);
  const extra = (chp.extraCommandLineFlags as string[] | undefined) ?? [];
  const extraEnv = (chp.extraEnv as Record<string, string> | undefined) ?? {};
  const env = { ...Z2JH.env, ...extraEnv, CONFIGPROXY_AUTH_TOKEN: "chart-secret" };
  assertOptionVariables(env, "proxy.chp.extraEnv");
  for (const [name, flags] of Object.entries(Z2JH.cases)) {
    const argv = expand([...Z2JH.common, ...flags, ...extra], env);
    const settings = settingsOf(argv, env);
    // The chart's container ports and probes (/_chp_healthz on http or https) are ours.
    const publicPort = name.startsWith("https") ? Z2JH.ports.https : Z2JH.ports.http;
    assert.equal(settings.publicAddress, `:${publicPort}`, name);
    assert.deepEqual(settings.api, { hostname: "0.0.0.0", port: Z2JH.ports.api }, name);
    assert.equal(settings.authToken, "chart-secret");
    assert.equal(settings.defaultTarget, "http://hub:8081");
    assert.equal(settings.errorTarget, "http://hub:8081/hub/error");
  }
});

Deno.test("z2jh: with two replicas the chart's hub uses the manifests' API Service", () => {
  const values = parseYaml(recipe("z2jh-values-replicas")) as Values;
  assert.deepEqual(unknownChartKeys(values), [], "keys chart 4.4.0's schema refuses");
  const hubConfig = (values.hub as Values).config as Record<string, Values>;
  const { host, port } = hostPortOf(hubConfig.ConfigurableHTTPProxy.api_url as string);
  const all = manifests();
  const [{ workload, container }] = proxyContainers(all);
  const service = byKind(all, "Service").find((s) => s.metadata.name === host);
  assert.ok(service, `api_url names no Service of the manifests: ${host}`);
  assert.ok(labelsMatch(service.spec.selector ?? {}, workload.spec.template!.metadata.labels));
  const servicePort = service.spec.ports?.find((p) => p.port === port);
  assert.ok(servicePort);
  assert.equal(containerPort(container, servicePort.targetPort ?? port), 8001);
  // The manifests' error target is the chart's hub Service.
  assert.ok(container.args?.includes("--error-target=http://hub:8081/hub/error"));
});

// ---------------------------------------------------------------------------------------------
// systemd-analyze

const SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze";

/** Why systemd-analyze cannot check units here, or undefined when it can. */
async function systemdAnalyzeMissing(): Promise<string | undefined> {
  if (!(await exists(SYSTEMD_ANALYZE))) return `${SYSTEMD_ANALYZE} is not installed`;
  // verify reads unit files offline (no systemd as PID 1 needed); probe it on a trivial unit.
  const dir = await Deno.makeTempDir({ prefix: "jhtp-deploy-unit-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.service`, "[Service]\nExecStart=/bin/true\n");
    const out = await run(SYSTEMD_ANALYZE, ["verify", "--man=no", `${dir}/probe.service`]);
    return out.code === 0 ? undefined : `systemd-analyze verify fails here: ${out.stderr.trim()}`;
  } catch (error) {
    return `systemd-analyze does not run: ${error}`;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const NO_SYSTEMD_ANALYZE = await systemdAnalyzeMissing();

/** An executable that runs this checkout's CLI as the compiled binary would run. */
async function writeCliShim(dir: string): Promise<string> {
  const path = `${dir}/jupyterhub-traefik-proxy`;
  const command = (await cliCommand()).map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(" ");
  await Deno.writeTextFile(path, `#!/bin/sh\nexec ${command} "$@"\n`, { mode: 0o755 });
  return path;
}

Deno.test({
  name: `systemd: systemd-analyze verify and security accept the unit${
    NO_SYSTEMD_ANALYZE ? ` (${NO_SYSTEMD_ANALYZE})` : ""
  }`,
  ignore: NO_SYSTEMD_ANALYZE !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "jhtp-deploy-unit-" });
    try {
      // verify demands that ExecStart's binary exist and be executable. /usr/local/bin has no
      // compiled binary here, so this copy of the unit (only this) names a shim in its place
      // that runs this checkout's CLI with the compiled binary's permissions.
      const unitText = recipe("systemd-unit");
      const [binary] = execStart(systemdUnit());
      const shim = await writeCliShim(dir);
      const unitFile = `${dir}/jupyterhub-traefik-proxy.service`;
      await Deno.writeTextFile(
        unitFile,
        unitText.replace(`ExecStart=${binary} `, `ExecStart=${shim} `),
      );
      assert.notEqual(await Deno.readTextFile(unitFile), unitText);
      const verify = await run(SYSTEMD_ANALYZE, ["verify", "--man=no", unitFile]);
      assert.equal(verify.code, 0, verify.stderr);
      // Warnings (an unknown key, a bad value) leave the exit code at 0: none may be printed.
      assert.equal((verify.stdout + verify.stderr).trim(), "", "systemd-analyze verify warned");
      // The sandboxing: an exposure level of 3.0 or less ("OK") on systemd's 0-10 scale.
      const security = await run(SYSTEMD_ANALYZE, [
        "security",
        "--offline=yes",
        "--threshold=30",
        "--no-pager",
        unitFile,
      ]);
      assert.equal(security.code, 0, security.stdout.split("\n").slice(-3).join("\n"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Offline Kubernetes schema validation

const KUBERNETES_VALIDATE = `${VENV_BIN}kubernetes-validate`;
const HAS_KUBERNETES_VALIDATE = await exists(KUBERNETES_VALIDATE);

Deno.test({
  name: `k8s: the manifests validate against Kubernetes 1.32 and 1.37 schemas (strict)${
    HAS_KUBERNETES_VALIDATE ? "" : " (kubernetes-validate is not in .tools/venv)"
  }`,
  ignore: !HAS_KUBERNETES_VALIDATE,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "jhtp-deploy-k8s-" });
    try {
      const files = [`${dir}/manifests.yaml`, `${dir}/hub-pod.yaml`];
      await Deno.writeTextFile(files[0], recipe("k8s-manifests"));
      // The hub's env fragment, validated inside a minimal Pod.
      await Deno.writeTextFile(
        files[1],
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "hub" },
          spec: {
            containers: [{ name: "hub", image: "hub", env: parseYaml(recipe("k8s-hub-env")) }],
          },
        }),
      );
      const results = await Promise.all(
        ["1.32.0", "1.37.0"].map((version) =>
          run(KUBERNETES_VALIDATE, ["--strict", "-k", version, ...files])
        ),
      );
      for (const out of results) {
        assert.equal(out.code, 0, out.stdout + out.stderr);
        assert.doesNotMatch(out.stdout + out.stderr, /ERROR|WARN/);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------------------------------------
// The recipes' arguments, run: real traefik (and redis), on loopback

async function findTraefikBinary(): Promise<string | undefined> {
  for (const candidate of [`${ROOT}.tools/bin/traefik`, "/usr/local/bin/traefik"]) {
    if (await exists(candidate)) return candidate;
  }
  return undefined;
}

const TRAEFIK = await findTraefikBinary();
const REDIS = await exists(`${ROOT}.tools/bin/redis-server`);

/** Starts this checkout's CLI with `argv` and `env`, and waits until `ready` holds. */
async function startRecipe(
  argv: string[],
  env: Record<string, string>,
  ready: () => Promise<boolean>,
): Promise<Started> {
  const [command, ...prefix] = await cliCommand();
  return await startProcess({
    command,
    args: [...prefix, ...argv],
    env,
    ready,
    upMs: 20_000,
    what: "the proxy",
  });
}

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, init);
  await response.body?.cancel();
  return response.status;
}

Deno.test({
  name: `systemd: the unit's ExecStart serves the hub's config, and its routes survive a restart${
    TRAEFIK ? "" : " (no traefik)"
  }`,
  ignore: !TRAEFIK || !PYTHON,
  async fn() {
    const unit = systemdUnit();
    const { argv, settings } = systemdSettings();
    assert.ok("port" in settings.api);
    const dir = await Deno.makeTempDir({ prefix: "jhtp-deploy-systemd-" });
    const running: Started[] = [];
    try {
      // What systemd provides: the state directory (here under a temporary root) and the
      // EnvironmentFile's token. TRAEFIK_BIN names this machine's traefik instead of
      // /usr/local/bin/traefik; the public and API ports are free loopback ones.
      const state = `/var/lib/${unitValue(unit, "Service", "StateDirectory")}`;
      await Deno.mkdir(`${dir}${state}`, { recursive: true, mode: 0o700 });
      const token = SYSTEMD_TOKEN;
      const env = {
        ...Deno.env.toObject(),
        ...unitEnvironment(unit),
        TRAEFIK_BIN: TRAEFIK!,
        CONFIGPROXY_AUTH_TOKEN: token,
      };
      const [port, apiPort] = [freePort(), freePort()];
      const live = [
        ...argv.map((word) => word.startsWith(`${state}/`) ? `${dir}${word}` : word),
        "--ip=127.0.0.1",
        `--port=${port}`,
        `--api-port=${apiPort}`,
      ];
      const { config } = await loadHubConfig(recipe("systemd-jupyterhub-config"), {
        CONFIGPROXY_AUTH_TOKEN: token,
      });
      const hubApi = new URL(config.ConfigurableHTTPProxy.api_url as string);
      assert.equal(Number(hubApi.port), settings.api.port);
      hubApi.port = String(apiPort);
      const auth = { authorization: `token ${config.ConfigurableHTTPProxy.auth_token}` };
      const ready = async () =>
        await status(`http://127.0.0.1:${port}${HEALTHZ_PATH}`) === 200 &&
        await status(`${hubApi.origin}/api/routes`, { headers: auth }) === 200;
      running.push(await startRecipe(live, env, ready));
      assert.equal(await status(`${hubApi.origin}/api/routes`), 403, "the API needs the token");
      const post = await status(`${hubApi.origin}/api/routes/user/alice`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ target: `http://127.0.0.1:${freePort()}` }),
      });
      assert.equal(post, 201);
      assert.equal(await running.pop()!.stop(), 0, "a clean stop (no Restart=on-failure)");
      assert.ok(settings.provider.kind === "file" && settings.provider.path);
      const routesFile = `${dir}${settings.provider.path}`;
      assert.match(await Deno.readTextFile(routesFile), /user\/alice/);
      running.push(await startRecipe(live, env, ready));
      const listed = await fetch(`${hubApi.origin}/api/routes`, { headers: auth });
      assert.deepEqual(Object.keys(await listed.json()), ["/user/alice"]);
    } finally {
      for (const r of running) await r.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `k8s: two replicas with the Deployment's arguments share one redis${
    TRAEFIK && REDIS ? "" : " (no traefik or redis-server)"
  }`,
  ignore: !TRAEFIK || !REDIS,
  async fn() {
    const all = manifests();
    const secrets = createdSecrets(recipe("k8s-secrets"));
    const [{ workload, container }] = proxyContainers(all);
    const redisContainer = byKind(all, "StatefulSet")[0].spec.template!.spec.containers[0];
    const redisArgs = redisContainer.args ?? [];
    // Every secret key gets a random value of its own; redis requires its password.
    const generated = new Map<string, string>();
    const value = (ref: SecretKeyRef) => {
      const id = `${ref.name}/${ref.key}`;
      if (!generated.has(id)) generated.set(id, crypto.randomUUID());
      return generated.get(id)!;
    };
    const redisEnv = containerEnv(redisContainer, secrets, value);
    const password = expand(redisArgs, redisEnv)[redisArgs.indexOf("--requirepass") + 1];
    const redis = await startRedis({
      password,
      keyspaceEvents: redisArgs[redisArgs.indexOf("--notify-keyspace-events") + 1],
    });
    const running: Started[] = [];
    try {
      const env = containerEnv(container, secrets, value);
      const token = env.CONFIGPROXY_AUTH_TOKEN;
      const args = expand(container.args ?? [], env);
      const { values } = parseFlags(args, { env });
      const redisUrl = new URL(values["redis-url"]!);
      redisUrl.hostname = "127.0.0.1";
      redisUrl.port = String(redis.port);
      const replicas: {
        api: string;
        healthz: string;
        ports: Map<number, number>;
        process: Promise<Started>;
      }[] = [];
      for (let i = 0; i < (workload.spec.replicas ?? 1); i++) {
        // Each pod's ports, moved to free loopback ones; everything else as the manifest says.
        const ports = new Map<number, number>(
          (container.ports ?? []).map((p) => [p.containerPort, freePort()]),
        );
        const live = (name: string) => ports.get(containerPort(container, name))!;
        const argv = [
          ...args,
          "--ip=127.0.0.1",
          `--port=${live("http")}`,
          "--api-ip=127.0.0.1",
          `--api-port=${live("api")}`,
          `--redis-url=${redisUrl}`,
          `--error-target=http://127.0.0.1:${freePort()}/hub/error`,
        ];
        if (values["metrics-port"] !== undefined) {
          argv.push(
            "--metrics-ip=127.0.0.1",
            `--metrics-port=${ports.get(values["metrics-port"])}`,
          );
        }
        // Ready as the kubelet sees it: the startup probe, then the readiness probe, pass.
        const probeUrl = (probe: Probe) =>
          probe.httpGet &&
          `http://127.0.0.1:${
            ports.get(containerPort(container, probe.httpGet.port))
          }${probe.httpGet.path}`;
        const passes = async (probe: Probe | undefined) => {
          if (!probe) return true;
          if (probe.httpGet) {
            const code = await status(probeUrl(probe)!);
            return code >= 200 && code < 400;
          }
          assert.ok(probe.tcpSocket, "an httpGet or tcpSocket probe");
          const conn = await Deno.connect({
            hostname: "127.0.0.1",
            port: ports.get(containerPort(container, probe.tcpSocket.port))!,
          });
          conn.close();
          return true;
        };
        const ready = async () =>
          await passes(container.startupProbe) && await passes(container.readinessProbe);
        const api = `http://127.0.0.1:${live("api")}/api/routes`;
        const healthz = probeUrl(container.readinessProbe!)!;
        replicas.push({ api, healthz, ports, process: startRecipe(argv, env, ready) });
      }
      const started = await Promise.allSettled(replicas.map((r) => r.process));
      for (const result of started) if (result.status === "fulfilled") running.push(result.value);
      for (const result of started) if (result.status === "rejected") throw result.reason;
      const auth = { authorization: `token ${token}` };
      for (const replica of replicas) {
        // The probe's answer, without a token; the API only with it.
        const healthz = await fetch(replica.healthz);
        assert.deepEqual(await healthz.json(), { status: "OK" });
        assert.equal(await status(replica.api), 403);
        assert.equal(await status(replica.api, { headers: auth }), 200);
        if (values["metrics-port"] !== undefined) {
          const metrics = `http://127.0.0.1:${replica.ports.get(values["metrics-port"])}/metrics`;
          assert.equal(await status(metrics), 200);
        }
      }
      // A route added through one replica's API is listed by the other's.
      const post = await status(`${replicas[0].api}/user/alice`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ target: `http://127.0.0.1:${freePort()}` }),
      });
      assert.equal(post, 201);
      await waitFor(
        async () => {
          const listed = await fetch(replicas[1].api, { headers: auth });
          return Object.keys(await listed.json()).includes("/user/alice");
        },
        "the route through the other replica",
        5_000,
      );
    } finally {
      for (const r of running) await r.stop();
      await redis.stop();
    }
  },
});
