"""TIME_WAIT and orphaned FIN_WAIT2, followed through the tw sock's timer."""

import time
from datetime import datetime

from harness import (Tracer, assert_between, assert_eq, ms, netns_inode, peer, test,
                     wait_peer)
from netlab import SingleNs


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


def close_first(ns, port, client_opts=(), server_delay=0.05):
    """A client that closes first (so it owns the TIME_WAIT) and its server."""
    srv = peer(ns, ns.ns, "server", "127.0.0.1", port, "--then", "eof", "--delay",
               server_delay)
    cli = peer(ns, ns.ns, "client", "127.0.0.1", port, "--then", "close", *client_opts)
    wait_peer(cli)
    wait_peer(srv)
    return cli


@test("timewait: expires after 2MSL (slow: about a minute)", slow=True)
def timewait_expires():
    with SingleNs() as ns, Tracer("--csv", "-D", "7301") as tr:
        close_first(ns, 7301)
        time.sleep(63.5)
        tr.stop()
        c = one(rows_in(tr, ns, rport=7301), "client")
    assert_eq("tw_end", c["tw_end"], "expired")
    # 60 s, fired late by up to one timer-wheel granule (512 jiffies at HZ=250)
    assert_between("time_wait s", ms(c, "time_wait_us") / 1000, 60.0, 62.2)


@test("timewait: reused by connect() with tcp_tw_reuse=1 and a bound port")
def timewait_reused():
    with SingleNs() as ns, Tracer("--csv", "-D", "7302") as tr:
        ns.sysctl(ns.ns, "net.ipv4.tcp_tw_reuse", "1")
        close_first(ns, 7302, ("--bind-port", "40302"))
        time.sleep(1.3)  # tcp_tw_reuse_delay is 1 s
        close_first(ns, 7302, ("--bind-port", "40302"))
        time.sleep(0.3)
        tr.stop()
        rows = rows_in(tr, ns, lport=40302, rport=7302)
    assert_eq("rows", len(rows), 2)
    first = min(rows, key=lambda r: r["start_time"])
    second = max(rows, key=lambda r: r["start_time"])
    assert_eq("tw_end", first["tw_end"], "reused")
    # 1.3 s of sleep plus the second client's start-up, however long that takes
    assert_between("time_wait s", ms(first, "time_wait_us") / 1000, 1.0, 3.0)
    # what ended it is the second connect(): the same moment, to a few ms
    gap = (wall(second["start_time"]) - wall(first["end_time"])) * 1000
    assert_between("from the TIME_WAIT's end to the second connect() ms", gap, -5, 5)


@test("timewait: killed with ss -K")
def timewait_killed():
    with SingleNs() as ns, Tracer("--csv", "-D", "7303") as tr:
        close_first(ns, 7303)
        time.sleep(0.5)
        ns.sh(ns.ns, "ss -K -t state time-wait dport = :7303")
        time.sleep(0.5)
        tr.stop()
        c = one(rows_in(tr, ns, rport=7303), "client")
    assert_eq("tw_end", c["tw_end"], "killed")
    assert_between("time_wait s", ms(c, "time_wait_us") / 1000, 0.45, 0.8)


@test("timewait: orphaned FIN_WAIT2, peer closes 2 s later")
def timewait_orphan_fin_wait2():
    with SingleNs() as ns, Tracer("--csv", "-D", "7304") as tr:
        close_first(ns, 7304, server_delay=2.0)
        time.sleep(0.5)
        tr.stop()
        c = one(rows_in(tr, ns, rport=7304), "client")
    # FIN_WAIT1 ends when the server ACKs our FIN (delayed ACK: ~40 ms)
    total = ms(c, "fin_wait1_us") + ms(c, "fin_wait2_us")
    assert_between("fin_wait1+fin_wait2 s", total / 1000, 2.0, 2.05)
    assert_between("fin_wait2 s", ms(c, "fin_wait2_us") / 1000, 1.9, 2.05)
    assert_eq("tw_end", c["tw_end"], "in_progress")
    assert_between("time_wait s", ms(c, "time_wait_us") / 1000, 0.4, 0.7)


@test("timewait: none when tcp_max_tw_buckets is full")
def timewait_overflow():
    with SingleNs() as ns, Tracer("--csv", "-D", "7305") as tr:
        ns.sysctl(ns.ns, "net.ipv4.tcp_max_tw_buckets", "0")
        close_first(ns, 7305, server_delay=0.2)
        time.sleep(0.3)
        tr.stop()
        c = one(rows_in(tr, ns, rport=7305), "client")
    assert_eq("tw_end", c["tw_end"], "none")
    assert_eq("time_wait", c["time_wait_us"], "")


@test("timewait: recycled by a new incoming SYN on the same tuple")
def timewait_recycled():
    with SingleNs() as ns, Tracer("--csv", "-L", "7306") as tr:
        for _ in range(2):
            srv = peer(ns, ns.ns, "server", "127.0.0.1", 7306, "--then", "close")
            cli = peer(ns, ns.ns, "client", "127.0.0.1", 7306, "--then", "eof",
                       "--bind-port", "40306")
            wait_peer(cli)
            wait_peer(srv)
            time.sleep(0.3)
        time.sleep(0.3)
        tr.stop()
        rows = rows_in(tr, ns, lport=7306, rport=40306)
    assert len(rows) == 2, rows
    first = min(rows, key=lambda r: r["start_time"])
    second = max(rows, key=lambda r: r["start_time"])
    assert_eq("tw_end", first["tw_end"], "recycled")
    # 0.3 s of sleep plus the second pair of peers' start-up
    assert_between("time_wait s", ms(first, "time_wait_us") / 1000, 0.25, 2.0)
    # what ended it is the second SYN, which starts the second passive row
    gap = (wall(second["start_time"]) - wall(first["end_time"])) * 1000
    assert_between("from the TIME_WAIT's end to the second SYN ms", gap, -5, 5)
