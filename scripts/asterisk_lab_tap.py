#!/usr/bin/env python3
"""A recording TCP relay for the Asterisk lab (scripts/asterisk_lab.sh): put it between the CTI
server and Asterisk's AMI (or between Asterisk and the server's FastAGI) to keep every byte each
side sent, unchanged, as the captures in tests/data are kept.

    python scripts/asterisk_lab_tap.py --listen 15039 --to 15038 --out /tmp/lab/ami
    # connection N writes OUT.N.rx.raw (bytes from the --to side) and OUT.N.tx.raw (to it)

Loopback only: it listens on 127.0.0.1 and connects to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from pathlib import Path

HOST = "127.0.0.1"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, log: Path) -> None:
    with log.open("ab") as out:
        try:
            while data := await reader.read(65536):
                out.write(data)
                out.flush()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _serve(listen: int, to: int, out: str) -> None:
    counter = itertools.count(1)

    async def on_client(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        n = next(counter)
        try:
            u_reader, u_writer = await asyncio.open_connection(HOST, to)
        except OSError:
            c_writer.close()
            return
        await asyncio.gather(
            _pipe(u_reader, c_writer, Path(f"{out}.{n}.rx.raw")),
            _pipe(c_reader, u_writer, Path(f"{out}.{n}.tx.raw")),
        )

    server = await asyncio.start_server(on_client, HOST, listen)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", type=int, required=True, help="port to listen on (127.0.0.1)")
    p.add_argument("--to", type=int, required=True, help="port to relay to (127.0.0.1)")
    p.add_argument("--out", required=True, help="path prefix of the capture files")
    args = p.parse_args()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(_serve(args.listen, args.to, args.out))


if __name__ == "__main__":
    main()
