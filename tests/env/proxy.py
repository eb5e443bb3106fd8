#!/usr/bin/env python3
"""A TCP pass-through in front of a test service, for tests that need to stand between a client
and a real server: with --tls it accepts TLS (CERT/KEY, a certificate of the test's own CA) and
passes the plain bytes on, so a test reaches the real MLflow or Prometheus over https; with
--count it counts the HTTP requests sent through it into FILE, so a test sees how often a client
calls the server (a retry storm, or not).

usage: proxy.py BACKEND [--tls CERT KEY] [--count FILE]
  BACKEND is host:port; prints the port it listens on (127.0.0.1), then serves until killed.

A request is counted by its request line (`METHOD /path HTTP/1.x`) in what the client sends;
keep-alive connections carry several.
"""

import argparse
import asyncio
import re
import ssl

REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|POST|PUT|PATCH|DELETE|HEAD) \S+ HTTP/1\.[01]\r\n")


class Counter:
    def __init__(self, path):
        self.path = path
        self.n = 0
        self.write()

    def write(self):
        with open(self.path, "w") as f:
            f.write(str(self.n))


async def pipe(reader, writer, counter=None):
    tail = b""
    try:
        while data := await reader.read(65536):
            if counter is not None:
                seen = tail + data
                n = len(REQUEST_LINE.findall(seen)) - len(REQUEST_LINE.findall(tail))
                tail = seen[-512:]
                if n > 0:
                    counter.n += n
                    counter.write()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("backend")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--count", metavar="FILE")
    a = ap.parse_args()
    host, port = a.backend.rsplit(":", 1)
    context = None
    if a.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*a.tls)
    counter = Counter(a.count) if a.count else None

    async def serve(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, up_writer, counter),
            pipe(up_reader, client_writer),
        )

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
