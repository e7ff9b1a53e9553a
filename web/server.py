"""Serve the page with uvicorn: loopback by default, proxy headers only from loopback.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from 127.0.0.1, where the
reverse proxy runs (README "Web page"): then the client address the login throttle counts is
the browser's, and a request that came in over HTTPS is known as such (HSTS).
"""

from __future__ import annotations

from pathlib import Path

from config.loader import load_config
from timebase.clock import Clock
from web.app import build_site, create_app


def serve(config_path: Path, host: str | None = None, port: int | None = None,
          sim_clock: Path | None = None, log_level: str = "info") -> None:
    import uvicorn

    config = load_config(config_path)
    clock = Clock.load(sim_clock) if sim_clock else Clock.real()
    app = create_app(build_site(config, clock))
    uvicorn.run(app, host=host or config.web.host, port=port or config.web.port,
                proxy_headers=True, forwarded_allow_ips="127.0.0.1", server_header=False,
                date_header=True, log_level=log_level, access_log=True,
                # logging is set up by the caller (``pvrelief web --log-format``): uvicorn's
                # records go to its handlers, in its format, not to uvicorn's own
                log_config=None)
