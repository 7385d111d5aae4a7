"""TIME_WAIT and orphaned FIN_WAIT2, followed through the tw sock's timer.

On loopback a FIN is delivered within the sender's close() (the receiving
stack runs in its softirq), so the peers' stamps of close() bound when a
TIME_WAIT begins; `ss` polled in the namespace tells when it is gone.
Times are checked against those witnesses (truth.py), never a nominal
delay. The side that closed first has closed its socket by the time the
peer's FIN turns its FIN_WAIT2 into TIME_WAIT: that flip is read from the
tw timer's expiry, known to a jiffy (TW_SLACK).
"""

import re
import time
from datetime import datetime

from harness import (NO_KCONFIG, Tracer, assert_between, assert_eq, kernel_hz, ms, netns_inode,
                     peer, test, wait_peer)
from netlab import SingleNs, sockets, wait_for
from truth import JIFFY_MS, SLACK_MS, check, stamps


TW_SLACK = JIFFY_MS + SLACK_MS


def rows_in(tr, ns, **match):
    inode = netns_inode(ns.ns)
    return [r for r in tr.rows()
            if r["netns"] == inode and all(r[k] == str(v) for k, v in match.items())]


def wall(rfc3339):
    """Seconds since the epoch of a row's start_time or end_time."""
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def one(rows, what):
    assert len(rows) == 1, f"{what}: {len(rows)} rows: {rows}"
    return rows[0]


def now_ms():
    return time.monotonic_ns() / 1e6


def close_first(ns, port, client_opts=(), server_delay=0.05):
    """A client that closes first (so it owns the TIME_WAIT) and its server;
    returns (client stamps, server stamps)."""
    srv = peer(ns, ns.ns, "server", "127.0.0.1", port, "--then", "eof", "--delay",
               server_delay)
    cli = peer(ns, ns.ns, "client", "127.0.0.1", port, "--then", "close", *client_opts)
    cst = stamps(wait_peer(cli))
    return cst, stamps(wait_peer(srv))


def time_waits(ns, port):
    return [s for s in sockets(ns.ns, port) if s[0] == "TIME-WAIT"]


@test("timewait: expires after 2MSL (slow: about a minute)", slow=True)
def timewait_expires():
    with SingleNs() as ns, Tracer("--csv", "-D", "7301") as tr:
        _, sst = close_first(ns, 7301)
        wait_for("the TIME_WAIT", lambda: time_waits(ns, 7301))
        wait_for("the TIME_WAIT to expire", lambda: not time_waits(ns, 7301), timeout=90)
        gone = now_ms()
        tr.stop()
        c = one(rows_in(tr, ns, rport=7301), "client")
    assert_eq("tw_end", c["tw_end"], "expired")
    # from the server's FIN to the expiry: the 60 s timer never fires early
    # (armed up to a jiffy short); at most until ss saw it gone
    check("time_wait ms", ms(c, "time_wait_us"), 60000 - JIFFY_MS, gone - sst["close"][0],
          TW_SLACK)


@test("timewait: reused by connect() with tcp_tw_reuse=1 and a bound port")
def timewait_reused():
    with SingleNs() as ns, Tracer("--csv", "-D", "7302") as tr:
        ns.sysctl(ns.ns, "net.ipv4.tcp_tw_reuse", "1")
        _, sst1 = close_first(ns, 7302, ("--bind-port", "40302"))
        time.sleep(1.3)  # tcp_tw_reuse_delay: 1 s after the last segment the TW saw
        cst2, _ = close_first(ns, 7302, ("--bind-port", "40302"))
        ns.settle(7302)
        tr.stop()
        rows = rows_in(tr, ns, lport=40302, rport=7302)
    assert_eq("rows", len(rows), 2)
    first = min(rows, key=lambda r: r["start_time"])
    second = max(rows, key=lambda r: r["start_time"])
    assert_eq("tw_end", first["tw_end"], "reused")
    # from the first server's close() to the second client's connect()
    check("time_wait ms", ms(first, "time_wait_us"), cst2["connect"][0] - sst1["close"][1],
          cst2["connect"][1] - sst1["close"][0], TW_SLACK)
    # what ended it is the second connect(): the same moment, to a few ms
    gap = (wall(second["start_time"]) - wall(first["end_time"])) * 1000
    assert_between("from the TIME_WAIT's end to the second connect() ms", gap, -5, 5)


@test("timewait: killed with ss -K")
def timewait_killed():
    with SingleNs() as ns, Tracer("--csv", "-D", "7303") as tr:
        _, sst = close_first(ns, 7303)
        wait_for("the TIME_WAIT", lambda: time_waits(ns, 7303))
        time.sleep(0.3)
        k0 = now_ms()
        ns.sh(ns.ns, "ss -K -t state time-wait dport = :7303")
        k1 = now_ms()
        wait_for("the TIME_WAIT to be killed", lambda: not time_waits(ns, 7303))
        tr.stop()
        c = one(rows_in(tr, ns, rport=7303), "client")
    assert_eq("tw_end", c["tw_end"], "killed")
    check("time_wait ms", ms(c, "time_wait_us"), k0 - sst["close"][1], k1 - sst["close"][0],
          TW_SLACK)


@test("timewait: orphaned FIN_WAIT2, peer closes 2 s later")
def timewait_orphan_fin_wait2():
    orphan_fin_wait2(7304)


@test("timewait: no kernel config readable: HZ measured, orphan FIN_WAIT2 timed right")
def timewait_no_kconfig():
    """The flip to TIME_WAIT is read from jiffies: a wrong HZ would scale it."""
    tr = orphan_fin_wait2(7307, "-v", prefix=NO_KCONFIG)
    assert "Kconfig" not in tr.err, tr.err
    hz = re.search(r"kernel HZ=(\d+) \(measured\)", tr.err)
    assert hz, tr.err[-2000:]
    want = kernel_hz()
    if want:
        assert_eq("measured HZ", int(hz.group(1)), want)


def orphan_fin_wait2(port, *args, prefix=()):
    with SingleNs() as ns, Tracer("--csv", "-D", str(port), *args, prefix=prefix) as tr:
        cst, sst = close_first(ns, port, server_delay=2.0)
        wait_for("the TIME_WAIT", lambda: time_waits(ns, port))
        time.sleep(0.3)
        tr.stop()
        c = one(rows_in(tr, ns, rport=port), "client")
    # FIN_WAIT1 + FIN_WAIT2: from the client's close() to the server's; the
    # flip to TIME_WAIT is read from the tw timer's expiry, known to a jiffy
    slack = TW_SLACK
    total = ms(c, "fin_wait1_us") + ms(c, "fin_wait2_us")
    check("fin_wait1+fin_wait2 ms", total, sst["close"][0] - cst["close"][1],
          sst["close"][1] - cst["close"][0], slack)
    # FIN_WAIT1 ends when the server ACKs the FIN (a delayed ACK at most)
    assert ms(c, "fin_wait1_us") < ms(c, "fin_wait2_us"), c
    assert_eq("tw_end", c["tw_end"], "in_progress")
    # from the server's close() to tcpphase's exit
    check("time_wait ms", ms(c, "time_wait_us"), tr.stop_ms - sst["close"][1],
          tr.stopped_ms - sst["close"][0], slack)
    return tr


@test("timewait: none when tcp_max_tw_buckets is full")
def timewait_overflow():
    with SingleNs() as ns, Tracer("--csv", "-D", "7305") as tr:
        ns.sysctl(ns.ns, "net.ipv4.tcp_max_tw_buckets", "0")
        close_first(ns, 7305, server_delay=0.2)
        ns.settle(7305)
        tr.stop()
        c = one(rows_in(tr, ns, rport=7305), "client")
    assert_eq("tw_end", c["tw_end"], "none")
    assert_eq("time_wait", c["time_wait_us"], "")


@test("timewait: recycled by a new incoming SYN on the same tuple")
def timewait_recycled():
    with SingleNs() as ns, Tracer("--csv", "-L", "7306") as tr:
        cli_stamps = []
        for _ in range(2):
            srv = peer(ns, ns.ns, "server", "127.0.0.1", 7306, "--then", "close")
            cli = peer(ns, ns.ns, "client", "127.0.0.1", 7306, "--then", "eof",
                       "--bind-port", "40306")
            cli_stamps.append(stamps(wait_peer(cli)))
            wait_peer(srv)
            wait_for("the server's TIME_WAIT", lambda: time_waits(ns, 7306))
            time.sleep(0.3)
        ns.settle(7306)
        tr.stop()
        rows = rows_in(tr, ns, lport=7306, rport=40306)
    assert len(rows) == 2, rows
    first = min(rows, key=lambda r: r["start_time"])
    second = max(rows, key=lambda r: r["start_time"])
    assert_eq("tw_end", first["tw_end"], "recycled")
    # the server's TIME_WAIT: from the first client's close() (its FIN) to
    # the second client's connect() (its SYN)
    check("time_wait ms", ms(first, "time_wait_us"),
          cli_stamps[1]["connect"][0] - cli_stamps[0]["close"][1],
          cli_stamps[1]["connect"][1] - cli_stamps[0]["close"][0], TW_SLACK)
    # what ended it is the second SYN, which starts the second passive row
    gap = (wall(second["start_time"]) - wall(first["end_time"])) * 1000
    assert_between("from the TIME_WAIT's end to the second SYN ms", gap, -5, 5)
