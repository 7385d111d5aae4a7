"""peer - one end of a test TCP connection, run inside a test namespace.

    peer.py server HOST PORT [options]   listen, accept one connection
    peer.py client HOST PORT [options]   connect, send one byte

With --count N the peer makes (client) or accepts (server) N connections,
--conc at a time; the client closes each right after its byte, the server
reads to EOF and closes: a burst of short connections.

After the exchange the peer ends the connection as --then says:
    close     close (after --delay seconds, or once the file --go exists)
    eof       read until the other side's FIN, wait --delay, close
    shutdown  shutdown(SHUT_WR), read until FIN, wait --delay, close
--linger0 makes the close an RST. A server prints "ready" once listening; a
client whose connect() fails prints "connect_errno=N". Both print "done".

Each call that moves the connection is stamped, for tests to compare with
what tcpphase reports: a line "@NAME T0 T1", CLOCK_MONOTONIC ns right before
and right after the call (connect, accept, recv1 for the first byte, eof
for the read that saw the peer's FIN, shutdown, close).
"""

import argparse
import os
import socket
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def say(msg):
    print(msg, flush=True)


def stamped(name, fn, *args):
    """fn(*args), printing "@name T0 T1" around it, even when it raises."""
    t0 = time.monotonic_ns()
    try:
        return fn(*args)
    finally:
        say(f"@{name} {t0} {time.monotonic_ns()}")


def read_to_eof(sock):
    while sock.recv(4096):
        pass


def finish(sock, args):
    if args.then in ("eof", "shutdown"):
        if args.then == "shutdown":
            stamped("shutdown", sock.shutdown, socket.SHUT_WR)
        try:
            stamped("eof", read_to_eof, sock)
        except ConnectionResetError:
            say("reset")
    if args.go:
        while not os.path.exists(args.go):
            time.sleep(0.001)
    elif args.delay:
        time.sleep(args.delay)
    if args.linger0:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stamped("close", sock.close)


def burst_server(ls, args):
    """Accept args.count connections; each: read to EOF, close."""
    def serve(conn):
        with conn:
            while conn.recv(4096):
                pass

    ls.settimeout(args.timeout)
    threads = []
    for _ in range(args.count):
        conn, _ = ls.accept()
        t = threading.Thread(target=serve, args=(conn,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


def burst_client(fam, args):
    """args.count connections, args.conc at a time: connect, send a byte, close."""
    def one(i):
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            if args.bind_base:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("", args.bind_base + i))
            s.settimeout(args.timeout)
            s.connect((args.host, args.port))
            s.send(b"x")

    with ThreadPoolExecutor(max_workers=args.conc) as pool:
        list(pool.map(one, range(args.count)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--then", default="close", choices=["close", "eof", "shutdown"])
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--go", help="close once this file exists")
    p.add_argument("--linger0", action="store_true")
    p.add_argument("--bind-port", type=int, default=0)
    p.add_argument("--bind-base", type=int, default=0,
                   help="burst client: connection i binds local port BIND_BASE + i")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--accept-delay", type=float, default=0.0)
    p.add_argument("--wait", help="client: connect() once this file exists")
    p.add_argument("--hold", type=float, default=0.0, help="server: stay up after close")
    p.add_argument("--fork", action="store_true",
                   help="server: listen, then accept and serve in a forked child")
    p.add_argument("--count", type=int, default=0, help="a burst of this many connections")
    p.add_argument("--conc", type=int, default=16, help="burst: connections at a time")
    args = p.parse_args()
    fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET

    if args.role == "server":
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((args.host, args.port))
        ls.listen(1024)
        say("ready")
        if args.count:
            burst_server(ls, args)
            ls.close()
            say("done")
            return 0
        if args.fork:
            child = os.fork()
            if child:  # the parent only listens, a forked child serves
                ls.close()
                os.waitpid(child, 0)
                say("done")
                return 0
            say(f"child={os.getpid()}")
        if args.accept_delay:
            time.sleep(args.accept_delay)
        ls.settimeout(args.timeout)
        conn, _ = stamped("accept", ls.accept)
        stamped("recv1", conn.recv, 1)
        finish(conn, args)
        time.sleep(args.hold)
        ls.close()
    elif args.count:
        burst_client(fam, args)
    else:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if args.bind_port:
            s.bind(("", args.bind_port))
        s.settimeout(args.timeout)
        while args.wait and not os.path.exists(args.wait):
            time.sleep(0.001)
        try:
            stamped("connect", s.connect, (args.host, args.port))
        except OSError as e:
            say(f"connect_errno={e.errno or 0}")
            say("done")
            return 0
        s.settimeout(None)
        s.send(b"x")
        finish(s, args)
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
