#!/usr/bin/env python3
"""A TCP relay that adds a fixed one-way latency in each direction and keeps throughput.

For benchmarks against a store with real network latency (`tc netem` is not available on
these machines). Every chunk read from one side is written to the other side `--delay-ms`
later; chunks are not held back by one another, so a connection still carries as many
bytes per second as without the relay (the delay is a pipe, not a throttle). A request and
its response each wait once: a round trip gains twice the delay.

    scripts/delay_proxy.py --listen 127.0.0.1:7490 --to 127.0.0.1:7480 --delay-ms 20

Binds to loopback only. Stops on SIGTERM or Ctrl-C.
"""
import argparse
import asyncio
import signal
import socket
import sys


def address(text):
    host, _, port = text.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise argparse.ArgumentTypeError("only loopback addresses: %s" % text)
    return host, int(port)


async def pipe(reader, writer, delay):
    """Copies reader to writer, each chunk `delay` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def take():
        try:
            while True:
                data = await reader.read(1 << 16)
                queue.put_nowait((loop.time() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            queue.put_nowait((loop.time(), b""))

    async def give():
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return

    await asyncio.gather(take(), give())


async def relay(client_reader, client_writer, target, delay):
    try:
        server_reader, server_writer = await asyncio.open_connection(*target)
    except OSError as e:
        print("delay_proxy: cannot reach %s:%d: %s" % (target[0], target[1], e), file=sys.stderr)
        client_writer.close()
        return
    for w in (client_writer, server_writer):
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await asyncio.gather(
            pipe(client_reader, server_writer, delay),
            pipe(server_reader, client_writer, delay),
        )
    except asyncio.CancelledError:
        pass  # the relay is stopping: connections end with it
    finally:
        for w in (client_writer, server_writer):
            w.close()


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", type=address, required=True, help="loopback host:port to accept on")
    p.add_argument("--to", type=address, required=True, help="loopback host:port to relay to")
    p.add_argument("--delay-ms", type=float, required=True, help="one-way latency added per direction")
    args = p.parse_args()
    if args.delay_ms < 0:
        p.error("--delay-ms must be at least 0")
    delay = args.delay_ms / 1000.0
    server = await asyncio.start_server(
        lambda r, w: relay(r, w, args.to, delay), args.listen[0], args.listen[1], reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print("delay_proxy: %s:%d -> %s:%d, +%.1f ms each way" % (*args.listen, *args.to, args.delay_ms),
          file=sys.stderr, flush=True)
    async with server:
        await stop.wait()
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
