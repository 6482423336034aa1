"""A loopback TCP proxy a scenario can cut and mend: the database or Redis going away as the service
sees it, without touching the machine's real servers that other tests share.

It runs on an event loop of its own, in a thread, so it forwards whatever the test's own loop is
doing (a server starting up in the test's thread blocks that loop). ``cut`` stops listening and
resets every connection through it (new connections are refused, as from a stopped server);
``mend`` listens again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine, Iterator
from typing import Any


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    def mend(self) -> None:
        """Listen (again) on ``port``."""
        self._run(self._listen())

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        self._run(self._cut())

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._connect, "127.0.0.1", self.port, reuse_address=True
            )

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            if isinstance(transport, asyncio.Transport):
                transport.abort()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        for w in (writer, up_writer):
            self._writers.add(w)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pump = asyncio.create_task(self._pump(source, sink))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            self._writers.discard(sink)
            with contextlib.suppress(Exception):
                sink.transport.abort()


@contextlib.contextmanager
def cuttable_proxy(target_host: str, target_port: int) -> Iterator[CuttableProxy]:
    """A proxy to the target, listening, for the duration of the block; everything closed after."""
    proxy = CuttableProxy(target_host, target_port)
    proxy._thread.start()
    try:
        proxy.mend()
        yield proxy
    finally:
        proxy.cut()
        proxy._loop.call_soon_threadsafe(proxy._loop.stop)
        proxy._thread.join(timeout=10)
        proxy._loop.close()
