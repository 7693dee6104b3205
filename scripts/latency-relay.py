#!/usr/bin/env python3
"""A TCP relay on 127.0.0.1 that adds network latency (and optionally a bandwidth cap) in
front of a local server, for benchmarks on a store "over a network" where `tc netem` is not
available (no sch_netem here).

    scripts/latency-relay.py --listen 7481 --upstream 127.0.0.1:7480 --delay-ms 5 [--mbps 1000]

Every byte is delayed by --delay-ms in each direction (a round trip costs twice that), in
order; with --mbps each direction is also paced to that rate. Listens on 127.0.0.1 only.
"""

import argparse
import asyncio
import time


async def pump(reader, writer, delay, rate):
    """Copies reader to writer, each chunk released `delay` seconds after it arrived and no
    faster than `rate` bytes/s (0: unpaced)."""
    queue = asyncio.Queue()

    async def receive():
        while True:
            data = await reader.read(65536)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                return

    async def send():
        next_free = time.monotonic()
        while True:
            due, data = await queue.get()
            if not data:
                break
            now = time.monotonic()
            if rate:
                due = max(due, next_free)
                next_free = due + len(data) / rate
            if due > now:
                await asyncio.sleep(due - now)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass

    try:
        await asyncio.gather(receive(), send())
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1")
    p.add_argument("--upstream", required=True, help="HOST:PORT of the server")
    p.add_argument("--delay-ms", type=float, default=5.0, help="one-way delay in ms")
    p.add_argument("--mbps", type=float, default=0.0, help="cap per direction in Mbit/s (0: none)")
    a = p.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    delay, rate = a.delay_ms / 1000.0, a.mbps * 1e6 / 8

    async def handle(client_r, client_w):
        try:
            up_r, up_w = await asyncio.open_connection(host, int(port))
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pump(client_r, up_w, delay, rate), pump(up_r, client_w, delay, rate))

    server = await asyncio.start_server(handle, "127.0.0.1", a.listen)
    print(f"latency-relay: 127.0.0.1:{a.listen} -> {a.upstream}, {a.delay_ms} ms each way"
          + (f", {a.mbps} Mbit/s" if a.mbps else ""), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
