"""The MLLP listener the PAS sends ADT messages to (`flask mdt hl7-listener`).

Built on python-hl7's asyncio MLLP server (``hl7.mllp.start_hl7_server``): it frames and
unframes blocks; each complete block is handed to ``handle_hl7`` and its acknowledgement
written back on the same connection. Messages are processed one at a time, in the order they
arrive, whatever the number of connections (each is applied in its own transaction before the
next is read), so the messages about one patient apply in order. A client that drops
mid-message, or sends something that is not an MLLP block, loses only that connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from flask import Flask
from hl7.mllp import InvalidBlockError, start_hl7_server

from mdt.extensions import db
from mdt.services.pas.messages import handle_hl7

log = logging.getLogger(__name__)
# Largest message taken (an MLLP block): ADT messages are a few kilobytes.
LIMIT = 1024 * 1024


def decode(block: bytes) -> str:
    """MLLP carries bytes: UTF-8 (what HL7 2.5+ prefers), else Latin-1 (never fails)."""
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError:
        return block.decode("latin-1")


def serve(
    app: Flask,
    host: str,
    port: int,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
    handle_signals: bool = False,
) -> None:
    """Listen on host:port until ``stop`` is set (or SIGTERM/SIGINT with
    ``handle_signals``). ``on_ready`` is told the port bound (port 0 picks a free one)."""
    asyncio.run(_serve(app, host, port, stop or threading.Event(), on_ready, handle_signals))


async def _serve(
    app: Flask,
    host: str,
    port: int,
    stop: threading.Event,
    on_ready: Callable[[int], None] | None,
    handle_signals: bool,
) -> None:
    loop = asyncio.get_running_loop()
    if handle_signals:
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    turn = asyncio.Lock()  # one message at a time, in arrival order

    async def connection(reader: object, writer: object) -> None:
        await _connection(app, reader, writer, turn)

    server = await start_hl7_server(connection, host, port, limit=LIMIT)
    bound = server.sockets[0].getsockname()[1]
    log.info("listening for HL7 over MLLP on %s:%s", host, bound)
    if on_ready is not None:
        on_ready(bound)
    async with server:
        while not stop.is_set():
            await asyncio.sleep(0.05)
    log.info("stopped")


async def _connection(app: Flask, reader: object, writer: object, turn: asyncio.Lock) -> None:
    peer = writer.get_extra_info("peername")  # type: ignore[attr-defined]
    try:
        while True:
            try:
                block = await reader.readblock()  # type: ignore[attr-defined]
            except asyncio.IncompleteReadError as gone:
                if gone.partial.strip():
                    log.warning("%s closed the connection mid-message", peer)
                return
            except (InvalidBlockError, ValueError) as error:
                # Not framed as MLLP (or too long): nothing to acknowledge; drop the client.
                log.warning("%s sent something that is not an MLLP block: %s", peer, error)
                return
            async with turn:
                try:
                    ack = _process(app, decode(block))
                except Exception:  # the database is away: no ACK, so the PAS sends it again
                    log.exception("%s: message not processed; closing the connection", peer)
                    return
            writer.writeblock(ack.encode("utf-8"))  # type: ignore[attr-defined]
            await writer.drain()  # type: ignore[attr-defined]
    except (ConnectionError, OSError) as error:
        log.warning("%s: connection lost (%s)", peer, error)
    finally:
        writer.close()  # type: ignore[attr-defined]


def _process(app: Flask, text: str) -> str:
    with app.app_context():
        try:
            return handle_hl7(text)
        finally:
            db.session.remove()
