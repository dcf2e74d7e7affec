"""Serve the reply app with uvicorn, in one or several worker processes.

    python -m followup.web.serve [--host 127.0.0.1] [--port 8000] [--workers 2]

Why not ``uvicorn --workers N``: its supervisor binds one listening socket and shares it,
which costs in two ways that measure on a small machine.

* The socket is made without naming the protocol (``proto`` 0), and asyncio only sets
  TCP_NODELAY on accepted sockets that say IPPROTO_TCP: Nagle's algorithm stays on, and on
  Linux a response on a kept-alive connection can wait ~40 ms for the client's delayed ACK
  (Kludex/uvicorn#3149).
* Each worker's event loop accepts every connection waiting when it wakes, so a burst of
  new connections mostly lands on one worker, and kept-alive connections stay there: one
  worker runs at a full core while the other idles.

Here each worker binds its own TCP socket with SO_REUSEPORT, and the kernel spreads new
connections evenly over them. The parent only starts the workers, restarts one that dies,
and stops them all on SIGTERM or SIGINT. One worker: plain uvicorn in this process."""

import argparse
import multiprocessing
import signal
import socket
import sys
import time

import uvicorn

APP = "followup.web.app:create_app"


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to host:port, known as IPPROTO_TCP (so connections get NODELAY)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _config(log_level: str) -> uvicorn.Config:
    # uvloop and httptools (C) rather than asyncio's loop and h11 (pure Python): measured
    # ~10-15% more replies per second at saturation (bench/replies.py).
    return uvicorn.Config(
        APP, factory=True, log_level=log_level, access_log=False, loop="uvloop", http="httptools"
    )


def _worker(host: str, port: int, log_level: str) -> None:
    sock = listening_socket(host, port, reuse_port=True)
    uvicorn.Server(_config(log_level)).run(sockets=[sock])


def serve(
    host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "warning"
) -> None:
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.Server(_config(log_level)).run(
            sockets=[listening_socket(host, port, reuse_port=False)]
        )
        return
    # Bound here first, so that a port in use fails at once and not in every worker.
    probe = listening_socket(host, port, reuse_port=True)
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> multiprocessing.Process:
        process = context.Process(target=_worker, args=(host, port, log_level), daemon=False)
        process.start()
        return process

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    processes = [start() for _ in range(workers)]
    probe.close()  # the workers hold their own sockets now
    while not stopping:
        time.sleep(0.2)  # supervision poll interval
        for i, process in enumerate(processes):
            if not process.is_alive() and not stopping:
                print(
                    f"reply app worker {process.pid} exited ({process.exitcode}): restarting",
                    file=sys.stderr,
                )
                time.sleep(1)  # a worker that cannot start must not spin the machine
                processes[i] = start()
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    serve(args.host, args.port, args.workers, args.log_level)


if __name__ == "__main__":
    main()
