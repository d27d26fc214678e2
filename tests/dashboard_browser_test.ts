/**
 * traefik's dashboard (`--traefik-dashboard`) in a real browser: headless Chromium, driven over
 * the Chrome DevTools Protocol, opens the dashboard's HTTP routers page with the API's basicAuth
 * credentials and the rendered page must list the router of a user's route by name. The HTTP-level
 * checks (401 without credentials, never on the public port) are in cli_process_test.ts.
 *
 * Ignored when `chromium` is not on PATH (`./setup.sh test` and `deps` install it).
 *
 * @module
 */

import assert from "node:assert/strict";
import { routerName } from "../lib/core/names.ts";
import { normalizeRoutespec } from "../lib/core/routespec.ts";
import { freePort, startBackend } from "./helpers.ts";
import { api, startCli } from "./cli_helpers.ts";

/** The first `name` on PATH, or undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return `${dir}/${name}`;
    } catch {
      // not there
    }
  }
  return undefined;
}

const CHROMIUM = onPath("chromium");
const SETSID = onPath("setsid");
/** Why the test cannot run here, if it cannot. */
const MISSING = Deno.build.os !== "linux"
  ? "needs Linux (/proc, process groups)"
  : !CHROMIUM
  ? "chromium is not on PATH (./setup.sh deps installs it)"
  : !SETSID
  ? "setsid is not on PATH"
  : undefined;

/** A headless Chromium in its own process group, with its DevTools endpoint. */
interface Browser {
  /** The browser's DevTools WebSocket URL (`ws://127.0.0.1:PORT/devtools/browser/ID`). */
  wsUrl: string;
  /** Process group id (the browser's pid: it leads its group). */
  pgid: number;
  /** The temporary profile directory (`--user-data-dir`), removed by `close`. */
  profile: string;
  /** Chromium's stderr so far, for failure messages. */
  stderr: () => string;
  /** Stops every process of the group and removes the profile directory. */
  close(): Promise<void>;
}

/**
 * The live (not zombie) processes of a browser (Linux /proc): those of process group `pgid`,
 * and any other whose command line names the browser's profile directory (chrome_crashpad_handler
 * leaves the group: it daemonizes into its own).
 */
function browserProcesses(pgid: number, profile: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z") continue;
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (Number(pgrp) === pgid || cmdline.includes(profile)) pids.push(Number(entry.name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function launchChromium(): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "jhtp-chromium-" });
  // setsid makes chromium lead a new process group (the child of a Deno process is not a group
  // leader, so setsid execs in place: the pid is chromium's), so that its zygote, renderers and
  // helpers can all be stopped through the group.
  const child = new Deno.Command(SETSID!, {
    args: [
      CHROMIUM!,
      "--headless=new",
      "--no-sandbox", // as root, the sandbox refuses to start
      "--disable-gpu",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      // Loopback only: no name resolves except 127.0.0.1, and no background traffic.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--disable-default-apps",
      "--disable-breakpad",
      // Not --disable-crashpad-for-testing: with it, chromium 156 aborts every navigation
      // (net::ERR_ABORTED). Its crashpad handlers leave the process group; close() finds them by
      // the profile directory in their command line.
      "--no-first-run",
      "--no-default-browser-check",
      "about:blank",
    ],
    env: { HOME: profile },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const pgid = child.pid;
  let err = "";
  const { promise: urlFound, resolve: resolveUrl } = Promise.withResolvers<string>();
  const pump = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      err += decoder.decode(chunk, { stream: true });
      const match = err.match(/DevTools listening on (ws:\/\/\S+)/);
      if (match) resolveUrl(match[1]);
    }
  })();

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    const signal = (pid: number, sig: Deno.Signal) => {
      try {
        Deno.kill(pid, sig);
      } catch {
        // gone
      }
    };
    // The whole group at once, so the browser cannot start new helpers meanwhile; then any
    // process of this browser outside the group, by pid.
    signal(-pgid, "SIGTERM");
    for (const pid of browserProcesses(pgid, profile)) signal(pid, "SIGTERM");
    const gone = async (ms: number) => {
      const deadline = Date.now() + ms;
      while (browserProcesses(pgid, profile).length > 0) {
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 50));
      }
      return true;
    };
    if (!await gone(5_000)) {
      signal(-pgid, "SIGKILL");
      for (const pid of browserProcesses(pgid, profile)) signal(pid, "SIGKILL");
      await gone(5_000); // what is still there fails the test's last assertion
    }
    await child.status;
    await pump.catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const wsUrl = await Promise.race([
      urlFound,
      child.status.then((s) => {
        throw new Error(`chromium exited with code ${s.code} before DevTools listened`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no DevTools endpoint within 30 s")), 30_000);
      }),
    ]);
    return { wsUrl, pgid, profile, stderr: () => err, close };
  } catch (error) {
    await close();
    throw new Error(`${(error as Error).message}\n${err.slice(-4000)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** A Chrome DevTools Protocol connection: commands, answers and events, one page session. */
class Cdp {
  #ws: WebSocket;
  #nextId = 1;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #listeners: ((method: string, params: Record<string, unknown>, session?: string) => void)[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data as string);
      if (typeof message.id === "number") {
        const waiter = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(JSON.stringify(message.error)));
        else waiter?.resolve(message.result);
      } else if (message.method) {
        for (const listener of this.#listeners) {
          listener(message.method, message.params ?? {}, message.sessionId);
        }
      }
    };
    ws.onclose = () => {
      for (const waiter of this.#pending.values()) waiter.reject(new Error("DevTools closed"));
      this.#pending.clear();
    };
  }

  static connect(url: string): Promise<Cdp> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => resolve(new Cdp(ws));
      ws.onerror = (event) =>
        reject(new Error(`DevTools WebSocket: ${(event as ErrorEvent).message}`));
    });
  }

  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<T> {
    const id = this.#nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return answer;
  }

  on(listener: (method: string, params: Record<string, unknown>, session?: string) => void) {
    this.#listeners.push(listener);
  }

  close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((resolve) =>
      this.#ws.addEventListener("close", () => resolve())
    );
    this.#ws.close();
    return closed;
  }
}

Deno.test({
  name: "dashboard in headless Chromium: the HTTP routers page lists a user's router by name" +
    (MISSING ? ` (ignored: ${MISSING})` : ""),
  ignore: MISSING !== undefined,
  fn: async () => {
    const apiPort = freePort();
    const user = "alice";
    const routespec = normalizeRoutespec(`/user/${user}/`);
    const router = routerName(routespec);
    const backend = startBackend(user);
    const cli = await startCli([
      "--traefik-dashboard",
      `--traefik-api-url=http://127.0.0.1:${apiPort}`,
      "--traefik-api-username=admin",
      "--traefik-api-password=dash-pw",
    ]);
    let browser: Browser | undefined;
    let cdp: Cdp | undefined;
    try {
      const post = await api(cli, "POST", `/user/${user}`, { target: backend.url, user });
      await post.body?.cancel();
      assert.equal(post.status, 201);

      browser = await launchChromium();
      cdp = await Cdp.connect(browser.wsUrl);
      const { targetId } = await cdp.send<{ targetId: string }>("Target.createTarget", {
        url: "about:blank",
      });
      const { sessionId } = await cdp.send<{ sessionId: string }>("Target.attachToTarget", {
        targetId,
        flatten: true,
      });
      const documents: { url: string; status: number }[] = [];
      const failures: string[] = [];
      cdp.on((method, params, session) => {
        if (session !== sessionId) return;
        if (method === "Network.responseReceived") {
          const response = params.response as { url: string; status: number };
          if (params.type === "Document" || response.url.includes("/api/")) {
            documents.push({ url: response.url, status: response.status });
          }
        } else if (method === "Network.loadingFailed") {
          failures.push(`${params.type}: ${params.errorText}`);
        }
      });
      await cdp.send("Network.enable", {}, sessionId);
      // The dashboard's page and every request its script makes to /api carry the credentials.
      await cdp.send("Network.setExtraHTTPHeaders", {
        headers: { Authorization: `Basic ${btoa("admin:dash-pw")}` },
      }, sessionId);
      await cdp.send("Page.enable", {}, sessionId);
      // traefik 3.6's dashboard is a single-page app with hash routing (webui/src/App.tsx).
      const pageUrl = `http://127.0.0.1:${apiPort}/dashboard/#/http/routers`;
      const navigation = await cdp.send<{ errorText?: string }>(
        "Page.navigate",
        { url: pageUrl },
        sessionId,
      );
      assert.equal(navigation.errorText, undefined, `navigation to ${pageUrl} failed`);

      // Poll the rendered text (innerText: what the page shows, after React rendered the rows
      // fetched from /api/http/routers) until the router's name appears.
      let text = "";
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const { result } = await cdp.send<{ result: { value?: string } }>("Runtime.evaluate", {
          expression: "document.body ? document.body.innerText : ''",
          returnByValue: true,
        }, sessionId);
        text = result.value ?? "";
        if (text.includes(router)) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const context = `page text:\n${text.slice(0, 3000)}\nresponses: ${
        JSON.stringify(documents)
      }\nfailures: ${JSON.stringify(failures)}`;
      assert.ok(text.includes(router), `the dashboard lists ${router}\n${context}`);
      const { result: title } = await cdp.send<{ result: { value?: string } }>(
        "Runtime.evaluate",
        { expression: "document.title", returnByValue: true },
        sessionId,
      );
      assert.match(title.value ?? "", /^HTTP Routers/, `the HTTP routers page\n${context}`);
      const page = documents.find((d) =>
        d.url.startsWith(`http://127.0.0.1:${apiPort}/dashboard/`)
      );
      assert.equal(page?.status, 200, context);
      assert.ok(
        documents.some((d) => d.url.includes("/api/http/routers") && d.status === 200),
        `the page read the routers API with the credentials\n${context}`,
      );
      // The row is the user's route: its rule, and the service that goes with it.
      const { result: row } = await cdp.send<{ result: { value?: string } }>("Runtime.evaluate", {
        expression: `(() => {
          for (const tr of document.querySelectorAll("[role=row], tr")) {
            if (tr.innerText.includes(${JSON.stringify(router)})) return tr.innerText;
          }
          return "";
        })()`,
        returnByValue: true,
      }, sessionId);
      assert.match(row.value ?? "", new RegExp(`/user/${user}`), context);
    } finally {
      await cdp?.close().catch(() => {});
      await browser?.close();
      assert.equal(await cli.stop(), 0);
      await backend.close();
    }
    if (browser) {
      assert.deepEqual(browserProcesses(browser.pgid, browser.profile), [], "no Chromium is left");
    }
  },
});
