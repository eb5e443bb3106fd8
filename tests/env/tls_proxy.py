#!/usr/bin/env python3
"""TLS in front of a plain-HTTP test service: accepts TLS on 127.0.0.1:PORT with CERT/KEY and
passes the bytes to BACKEND (host:port) unchanged, so a test can reach the real MLflow or
Prometheus over https with a certificate of its own CA.

usage: tls_proxy.py CERT KEY BACKEND   (prints the port it listens on, then serves until killed)
"""

import asyncio
import ssl
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
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
    cert, key, backend = sys.argv[1:4]
    host, port = backend.rsplit(":", 1)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def serve(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
