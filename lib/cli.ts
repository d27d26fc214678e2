/**
 * The command JupyterHub runs: a drop-in for `configurable-http-proxy` (its command line and
 * REST API) that routes through traefik. See `lib/chp/main.ts` for what it does.
 *
 * ```sh
 * deno run --allow-net --allow-read --allow-write --allow-env --allow-run \
 *   jsr:@jupyterhub/traefik-proxy-deno/cli --ip 127.0.0.1 --port 8000
 * ```
 *
 * @module
 */

export { main, type MainOptions } from "./chp/main.ts";
import { main } from "./chp/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
