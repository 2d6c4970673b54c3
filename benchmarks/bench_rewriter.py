"""Throughput of the placeholder rewriter against other ways to process a page.

Run ``python benchmarks/bench_rewriter.py`` (``--quick`` for a short run). Every
page of the shared corpus gets one ``<!-- personalize:recs -->`` before its last
``</body>`` (or at its end). Then these run side by side in one process, on
the same pages, with the contenders interleaved in each repetition:

* ``rewrite()``: the one-shot helper of ``edge_personalize.rewriting``.
* ``Rewriter.feed``: the streaming rewriter, fed 8 KiB chunks.
* ``rewrite()`` with the regex scanner: the same helper with the C extension
  switched off, as it runs where the install found no C compiler.
* ``bytes.replace``: a plain replace of the placeholder that ignores HTML
  structure, the speed limit for any rewrite.
* lxml: ``lxml.html.fromstring`` and ``tostring``, a parse and re-serialize.
* lol-html-py: streams each page, in 8 KiB chunks, through its
  ``AsyncRewriter``, the only API that binding has. It takes no handlers: it
  applies its built-in rules, which drop ``<script>`` and ``<style>``
  elements, so its output is not the input.

Each figure is the median of the repetitions, in MB/s (10**6 bytes per
second) over the corpus' total size.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from edge_personalize import rewriting
from edge_personalize.rewriting import COMPILED_SCANNER, Rewriter, rewrite

REPO = Path(__file__).resolve().parents[1]
PAGES = REPO / ".." / "shared" / "corpus" / "pages"
PLACEHOLDER = b"<!-- personalize:recs -->"
FRAGMENT = b'<aside class="recs"><a href="/p/42">Mug &amp; Saucer</a></aside>'
CHUNK = 8192
TARGETS = [("lol-html-py", 3.0), ("lxml", 5.0), ("bytes.replace", 0.12)]


def load_pages(step: int) -> list[bytes]:
    pages = []
    for path in sorted(PAGES.glob("*.html"))[::step]:
        page = path.read_bytes()
        end = page.lower().rfind(b"</body>")
        if end < 0:
            end = len(page)
        pages.append(page[:end] + PLACEHOLDER + page[end:])
    return pages


def run_rewrite(pages: list[bytes]) -> None:
    fragments = {"recs": FRAGMENT}
    for page in pages:
        rewrite(page, fragments)


def run_feed(pages: list[bytes]) -> None:
    for page in pages:
        rewriter = Rewriter(["recs"])
        for start in range(0, len(page), CHUNK):
            rewriter.feed(page[start : start + CHUNK])
        rewriter.close()


def run_rewrite_regex(pages: list[bytes]) -> None:
    compiled = rewriting._markup_run
    rewriting._markup_run = None
    try:
        run_rewrite(pages)
    finally:
        rewriting._markup_run = compiled


def run_replace(pages: list[bytes]) -> None:
    for page in pages:
        page.replace(PLACEHOLDER, FRAGMENT)


def lxml_runner() -> Callable[[list[bytes]], None] | None:
    try:
        import lxml.html
    except ImportError:
        return None

    def run(pages: list[bytes]) -> None:
        for page in pages:
            lxml.html.tostring(lxml.html.fromstring(page))

    return run


def lol_html_runner() -> Callable[[list[bytes]], None] | None:
    try:
        from lol_html import AsyncRewriter
    except ImportError:
        return None

    async def one(page: bytes) -> None:
        rewriter = AsyncRewriter()

        async def produce() -> None:
            for start in range(0, len(page), CHUNK):
                await rewriter.feed(page[start : start + CHUNK])
            rewriter.close()

        async def consume() -> None:
            async for _ in rewriter:
                pass

        await asyncio.gather(produce(), consume())

    async def all_pages(pages: list[bytes]) -> None:
        for page in pages:
            await one(page)

    def run(pages: list[bytes]) -> None:
        asyncio.run(all_pages(pages))

    return run


def check_output(pages: list[bytes]) -> None:
    """Stop unless rewrite() replaces exactly what bytes.replace does."""
    for page in pages:
        if rewrite(page, {"recs": FRAGMENT}) != page.replace(PLACEHOLDER, FRAGMENT):
            sys.exit("rewrite() output differs from the expected splice")


def machine() -> str:
    cpu = "unknown CPU"
    cores = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown CPU":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("processor"):
                cores += 1
    except OSError:
        pass
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{cpu}, {cores or '?'} logical CPUs, {platform.system()} "
        f"{platform.machine()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 repetitions on every 4th page"
    )
    args = parser.parse_args()
    repeats, step = (3, 4) if args.quick else (7, 1)

    pages = load_pages(step)
    if not pages:
        sys.exit(
            f"No pages in {PAGES.resolve()}: this benchmark reads the shared "
            "corpus, which must be beside the checkout as ../shared."
        )
    total = sum(map(len, pages))
    check_output(pages)

    if not COMPILED_SCANNER:
        print("NOTE: edge_personalize._speedups is not built; all rows use regexes.")
    runners: dict[str, Callable[[list[bytes]], None] | None] = {
        "rewrite()": run_rewrite,
        f"Rewriter.feed, {CHUNK // 1024} KiB chunks": run_feed,
        "rewrite(), regex scanner": run_rewrite_regex,
        "bytes.replace": run_replace,
        "lxml": lxml_runner(),
        "lol-html-py": lol_html_runner(),
    }
    available = {name: run for name, run in runners.items() if run is not None}
    seconds: dict[str, list[float]] = {name: [] for name in available}
    for repeat in range(repeats):
        names = list(available)
        # Rotate the order so that no contender always runs first or last.
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            started = time.perf_counter()
            available[name](pages)
            seconds[name].append(time.perf_counter() - started)

    speed = {
        name: total / statistics.median(times) / 1e6 for name, times in seconds.items()
    }
    print(machine())
    print(f"{len(pages)} pages, {total / 1e6:.1f} MB, median of {repeats} repetitions")
    print()
    for name in runners:
        if name in speed:
            print(f"  {name:32s} {speed[name]:9.1f} MB/s")
        else:
            print(f"  {name:32s} skipped (not installed)")

    print()
    # The targets apply to the scanner an install with a C compiler uses.
    ours = list(runners)[:2]
    for baseline, target in TARGETS:
        for name in ours:
            if baseline not in speed:
                print(f"  {name} / {baseline}: skipped (not installed)")
                continue
            ratio = speed[name] / speed[baseline]
            verdict = "PASS" if ratio >= target else "MISS"
            print(f"  {name} / {baseline}: {ratio:.2f} (target >= {target}) {verdict}")
    ratio = speed["rewrite()"] / speed["rewrite(), regex scanner"]
    print(f"  rewrite() / rewrite(), regex scanner: {ratio:.2f}")


if __name__ == "__main__":
    main()
