"""Serves the Python jupyterhub-traefik-proxy through configurable-http-proxy's REST API, so the
benchmark drives every peer with the same client. Each request calls the Python proxy's own API:
add_route, delete_route, get_all_routes. The Python proxy starts and stops its own traefik.

    python bench/python_peer.py CONFIG_JSON

CONFIG_JSON: {"provider": "file"|"redis", "public_port", "api_port", "traefik_api_port",
"workdir", "redis_url"?}
"""

import asyncio
import json
import signal
import sys
from urllib.parse import unquote

from tornado import web


def make_proxy(cfg):
    common = dict(
        public_url=f"http://127.0.0.1:{cfg['public_port']}",
        traefik_api_url=f"http://127.0.0.1:{cfg['traefik_api_port']}",
        traefik_api_username="bench",
        traefik_api_password="bench-password",
        should_start=True,
        check_route_timeout=120,
    )
    if cfg["provider"] == "redis":
        from jupyterhub_traefik_proxy.redis import TraefikRedisProxy

        return TraefikRedisProxy(redis_url=cfg["redis_url"], **common)
    from jupyterhub_traefik_proxy.fileprovider import TraefikFileProviderProxy

    return TraefikFileProviderProxy(
        dynamic_config_file=f"{cfg['workdir']}/rules.toml",
        static_config_file=f"{cfg['workdir']}/traefik.toml",
        **common,
    )


class Routes(web.RequestHandler):
    def initialize(self, proxy):
        self.proxy = proxy

    def routespec(self, path):
        path = path or "/"
        return path if path.endswith("/") else path + "/"

    async def get(self, path):
        routes = await self.proxy.get_all_routes()
        if path:
            route = routes.get(self.routespec(path))
            if route is None:
                raise web.HTTPError(404)
            self.write({**route["data"], "target": route["target"], "jupyterhub": True})
            return
        body = {}
        for spec, route in routes.items():
            key = unquote(spec[:-1] if len(spec) > 1 else spec)
            body[key] = {**route["data"], "target": route["target"], "jupyterhub": True}
        self.set_header("content-type", "application/json")
        self.write(json.dumps(body))

    async def post(self, path):
        body = json.loads(self.request.body)
        target = body.pop("target")
        body.pop("jupyterhub", None)
        await self.proxy.add_route(self.routespec(path), target, body)
        self.set_status(201)

    async def delete(self, path):
        await self.proxy.delete_route(self.routespec(path))
        self.set_status(204)


async def main():
    cfg = json.loads(sys.argv[1])
    proxy = make_proxy(cfg)
    await proxy.start()
    app = web.Application([(r"/api/routes(/.*)?", Routes, {"proxy": proxy})])
    server = app.listen(cfg["api_port"], address="127.0.0.1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await proxy.stop()


asyncio.run(main())
