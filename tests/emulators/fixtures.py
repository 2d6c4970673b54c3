"""Pytest fixtures for the emulators; import the ones a test module uses.

``emulator`` is the session's emulator, served by uvicorn on 127.0.0.1,
with every switch reset before the test. ``resetter`` is a server that
resets each connection.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .app import Emulator
from .servers import ResetServer, serve_asgi


class ServedEmulator(Emulator):
    """An emulator with the base URL it is served at."""

    base_url = ""

    @property
    def workers_base_url(self) -> str:
        """The ``base_url`` of ``WorkersAIProvider``, up to ``/client/v4``."""
        return f"{self.base_url}/client/v4"

    @property
    def openai_base_url(self) -> str:
        """The ``base_url`` of ``OpenAIProvider``, up to ``/v1``."""
        return f"{self.base_url}/v1"

    @property
    def service_url(self) -> str:
        """The ``url`` of ``HTTPProvider``."""
        return f"{self.base_url}/recommend"


@pytest.fixture(scope="session")
def served_emulator() -> Iterator[ServedEmulator]:
    """The emulator of the whole session, on a uvicorn server."""
    emulator = ServedEmulator()
    with serve_asgi(emulator) as base_url:
        emulator.base_url = base_url
        yield emulator


@pytest.fixture
def emulator(served_emulator: ServedEmulator) -> ServedEmulator:
    """The session's emulator with every switch off and nothing received."""
    served_emulator.reset()
    return served_emulator


@pytest.fixture
def resetter() -> Iterator[ResetServer]:
    """A server that resets every connection."""
    with ResetServer() as server:
        yield server
