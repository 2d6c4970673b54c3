"""Serve the FastAPI example shop on 127.0.0.1: ``python -m examples.fastapi_app``."""

from __future__ import annotations

import argparse

import uvicorn

from .. import shop
from .app import create_app


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the shop with uvicorn."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.fastapi_app",
        description="Serve the FastAPI example shop on 127.0.0.1.",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="TCP port to listen on (default 8000)"
    )
    args = parser.parse_args(argv)

    app = create_app()
    first = next(iter(shop.load_catalog()))
    print(f"Open http://127.0.0.1:{args.port}/products/{first.slug}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, reload=False)


if __name__ == "__main__":
    main()
