#!/usr/bin/env python3
"""A plain TCP pass-through in front of a test service that counts the HTTP requests sent
through it, so a test can see how often a client calls a real server (a retry storm, or not).

usage: count_proxy.py BACKEND COUNT_FILE   (BACKEND is host:port; prints the port it listens
on, then serves until killed; COUNT_FILE holds the number of requests so far)

A request is counted by its request line (`METHOD /path HTTP/1.x`) in what the client sends;
keep-alive connections carry several.
"""

import asyncio
import re
import sys

REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|POST|PUT|PATCH|DELETE|HEAD) \S+ HTTP/1\.[01]\r\n")
COUNT = 0


async def pipe(reader, writer, count_file=None):
    global COUNT
    tail = b""
    try:
        while data := await reader.read(65536):
            if count_file is not None:
                seen = tail + data
                n = len(REQUEST_LINE.findall(seen)) - len(REQUEST_LINE.findall(tail))
                tail = seen[-512:]
                if n > 0:
                    COUNT += n
                    with open(count_file, "w") as f:
                        f.write(str(COUNT))
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    backend, count_file = sys.argv[1:3]
    host, port = backend.rsplit(":", 1)
    with open(count_file, "w") as f:
        f.write("0")

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, server_writer, count_file),
            pipe(server_reader, client_writer),
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
