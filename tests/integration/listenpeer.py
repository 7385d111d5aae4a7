"""listenpeer - the two sides of the listener tests, with their own clock.

  listenpeer.py server PORT BACKLOG GOFILE GAP_MS
      listen(BACKLOG), print "ready"; once GOFILE exists, accept() every
      connection queued, one per GAP_MS (none if GAP_MS < 0: never
      accept), printing "@accept T" (CLOCK_MONOTONIC ms) for each; exits
      when its stdin closes.
  listenpeer.py clients PORT N HOLD_S GOFILE
      N connect()s at once (non-blocking), wait until every one is
      established or HOLD_S passed, print "@connect T0 T1" (first start, last
      established), create GOFILE, hold them until stdin closes, close.
"""

import os
import select
import socket
import sys
import time


def now_ms():
    return time.monotonic_ns() / 1e6


def server(port, backlog, gofile, gap_ms):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    print("ready", flush=True)
    while not os.path.exists(gofile):
        time.sleep(0.005)
    kept = []
    if gap_ms >= 0:
        s.setblocking(False)
        while True:
            try:
                c, _ = s.accept()
            except BlockingIOError:
                break
            print(f"@accept {now_ms():.3f}", flush=True)
            kept.append(c)
            time.sleep(gap_ms / 1000)
    print("done", flush=True)
    sys.stdin.read()
    for c in kept:
        c.close()
    s.close()


def clients(port, n, hold_s, gofile):
    socks = []
    t0 = now_ms()
    for _ in range(n):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(c)
    pending = set(socks)
    deadline = time.monotonic() + hold_s
    while pending and time.monotonic() < deadline:
        _, w, _ = select.select([], list(pending), [], 0.05)
        for c in w:
            if c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                pending.discard(c)
    t1 = now_ms()
    print(f"@connect {t0:.3f} {t1:.3f}", flush=True)
    print(f"established {n - len(pending)}", flush=True)
    open(gofile, "w").close()
    sys.stdin.read()
    for c in socks:
        c.close()


def main():
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    else:
        clients(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])


if __name__ == "__main__":
    main()
