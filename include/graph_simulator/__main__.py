"""Command line: ``python -m include.graph_simulator --port PORT [options]``.

Binds the socket itself before printing the base URL, so a client that reads the line can
connect at once (the kernel queues connections until the server accepts them). Uvicorn serves
HTTP/1.1; ``--http2`` serves with Hypercorn instead, which speaks HTTP/2 without TLS to a client
that starts with the HTTP/2 preface (h2c "prior knowledge") and HTTP/1.1 to the others, on the
same port: Graph offers HTTP/2 over TLS, and the hook's fleet audit then multiplexes its batches
over one connection instead of a pool of HTTP/1.1 ones. Either server runs one worker, on uvloop,
without an access log (Graph query strings carry tokens and signup codes); SIGTERM exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import hypercorn.asyncio
import hypercorn.config
import uvicorn
import uvloop
from fastapi import FastAPI

from include.graph_simulator.app import create_app
from include.graph_simulator.saved_state import load_state, save_state
from include.graph_simulator.state import DEFAULT_APP_ID, DEFAULT_APP_SECRET, SimulatorConfig

#: Seconds either server gives open requests to finish after SIGTERM.
GRACEFUL_SHUTDOWN_S = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m include.graph_simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every Graph request")
    parser.add_argument("--seed", type=Path, help="JSON or YAML file of numbers to create at start")
    parser.add_argument("--app-id", default=DEFAULT_APP_ID)
    parser.add_argument("--app-secret", default=DEFAULT_APP_SECRET)
    parser.add_argument("--page-size", type=int, default=25, help="phone_numbers page size")
    parser.add_argument("--waba-hourly-budget", type=int, default=5000, help="calls per WABA per hour")
    parser.add_argument("--app-hourly-budget", type=int, default=1_000_000, help="calls per app per hour")
    parser.add_argument("--clock-speed", type=float, default=0.0, help="simulated seconds per wall second")
    parser.add_argument(
        "--require-appsecret-proof",
        action="store_true",
        help='like Meta\'s "Require App Secret": business-token calls need a valid appsecret_proof',
    )
    parser.add_argument(
        "--webhook-url",
        help="send signed Meta webhooks (name decisions, quality changes, account events) here",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        help="start from the numbers, tokens and clock saved in this file (if it exists; --seed is "
        "then ignored) and save them there on shutdown",
    )
    parser.add_argument(
        "--http2",
        action="store_true",
        help="serve with Hypercorn: HTTP/2 without TLS (prior knowledge) and HTTP/1.1 on the one port",
    )
    return parser.parse_args(argv)


def load_seed(path: Path) -> Any:
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = SimulatorConfig(
        app_id=args.app_id,
        app_secret=args.app_secret,
        latency_ms=args.latency_ms,
        page_size=args.page_size,
        waba_hourly_budget=args.waba_hourly_budget,
        app_hourly_budget=args.app_hourly_budget,
        clock_speed=args.clock_speed,
        require_appsecret_proof=args.require_appsecret_proof,
        webhook_url=args.webhook_url,
    )
    saved = args.state_file is not None and args.state_file.exists()
    app = create_app(config, load_seed(args.seed) if args.seed and not saved else None)
    if saved:
        app.state.sim.state = load_state(args.state_file, config)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    print(f"Graph API simulator listening on http://{shown_host}:{port}", flush=True)
    try:
        if args.http2:
            serve_http2(app, sock)
        else:
            serve_http1(app, sock)
    finally:
        if args.state_file is not None:
            save_state(app.state.sim.state, args.state_file)


def serve_http1(app: FastAPI, sock: socket.socket) -> None:
    """Uvicorn (httptools, uvloop), HTTP/1.1 only."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            workers=1,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            backlog=2048,
        )
    )
    # Uvicorn shuts down gracefully, then re-raises the signal it caught; exit 0 on it.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    server.run(sockets=[sock])


def serve_http2(app: FastAPI, sock: socket.socket) -> None:
    """Hypercorn on uvloop: h2c prior knowledge and HTTP/1.1 on ``sock``.

    Hypercorn handles SIGTERM and SIGINT itself (graceful shutdown, then ``serve`` returns),
    so the process exits 0.
    """
    config = hypercorn.config.Config()
    config.bind = [f"fd://{sock.detach()}"]  # the socket bound above; Hypercorn owns it now
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = GRACEFUL_SHUTDOWN_S
    config.backlog = 2048
    # Hypercorn closes a connection after 1,000 requests by default (HTTP/2: GOAWAY); uvicorn
    # and Graph keep one open, and a 100,000-channel audit sends 1,000 batches per shard.
    config.keep_alive_max_requests = 2**31
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(hypercorn.asyncio.serve(app, config, mode="asgi"))


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


if __name__ == "__main__":
    main()
