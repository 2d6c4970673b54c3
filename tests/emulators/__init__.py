"""Local stand-ins for remote recommendation services, for tests on loopback.

:mod:`emulators.app` is one small ASGI app that speaks three shapes: the
Cloudflare Workers AI REST API, an OpenAI-compatible chat-completions
endpoint and the JSON format of ``HTTPProvider``. Switches on the
:class:`~emulators.app.Emulator` inject latency and faults.
:mod:`emulators.servers` serves it with uvicorn on 127.0.0.1 and adds a
server that resets every connection and an address that refuses them.
:mod:`emulators.fixtures` has the pytest fixtures.
"""
