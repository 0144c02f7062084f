"""Running the registry: listen (TCP, TLS or a unix socket), serve until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from dockyard.registry.config import Config

LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "warning": logging.WARNING, "info": logging.INFO,
          "debug": logging.DEBUG}


async def run(config: Config, *, ready=None) -> None:
    from dockyard.registry.app import RegistryApp
    from dockyard.registry.http import serve, tls_context

    app = RegistryApp(config)
    await app.start()
    tls = None
    if config.http.tls is not None:
        tls = tls_context(config.http.tls.certificate, config.http.tls.key, config.http.tls.clientcas)
    if config.http.net == "unix":
        server = await serve(app.handle, "", 0, unix=config.http.addr)
    else:
        host, port = config.listen
        server = await serve(app.handle, host, port, tls=tls)
    log = logging.getLogger("dockyard.registry")
    log.info("listening on %s%s", config.http.addr, " (TLS)" if tls else "")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready(server)
    try:
        await stop.wait()
    finally:
        await server.close()
        await app.close()


def main(config: Config) -> int:
    logging.basicConfig(level=LEVELS.get(config.log_level.lower(), logging.INFO),
                        format="time=%(asctime)s level=%(levelname)s msg=%(message)s")
    asyncio.run(run(config))
    return 0
