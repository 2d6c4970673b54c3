"""Serve the Flask example shop on 127.0.0.1: ``python -m examples.flask_app``."""

from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from .. import shop
from .app import create_app


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the shop with Werkzeug's server."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.flask_app",
        description="Serve the Flask example shop on 127.0.0.1.",
    )
    parser.add_argument(
        "--port", type=int, default=5000, help="TCP port to listen on (default 5000)"
    )
    args = parser.parse_args(argv)

    app = create_app()
    first = next(iter(shop.load_catalog()))
    print(f"Open http://127.0.0.1:{args.port}/products/{first.slug}", flush=True)
    run_simple(
        "127.0.0.1",
        args.port,
        app,
        use_reloader=False,
        use_debugger=False,
        threaded=True,
    )


if __name__ == "__main__":
    main()
