"""Summaries, stuck sockets, Prometheus metrics and record/replay, on real BPF."""

import csv
import io
import os
import re
import socket
import subprocess
import time
import urllib.request

from harness import (TCPPHASE, Tracer, assert_between, assert_eq, netns_inode, peer, test,
                     wait_peer)
from netlab import Lab, SingleNs


def workload(lab, port, n, srv_delay="0.1"):
    """n connections A -> B, client closes first, server waits srv_delay."""
    for _ in range(n):
        srv = peer(lab, lab.ns_b, "server", lab.addr_b, port, "--then", "eof",
                   "--delay", srv_delay)
        wait_peer(peer(lab, lab.ns_a, "client", lab.addr_b, port))
        wait_peer(srv)


@test("summary: per-phase figures against a 25 ms delay line")
def summary_figures():
    with Lab(delay_ms=25) as lab, Tracer("--summary", "-L", "7401") as tr:
        workload(lab, 7401, 3)
        time.sleep(0.3)
        tr.stop()
    out = tr.out

    def row(name):
        m = re.search(rf"^{name}\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", out,
                      re.M)
        assert m, f"no {name} row in:\n{out}"
        return int(m.group(1)), [float(x) for x in m.groups()[1:]]

    n, (p50, p90, p99, mx) = row("handshake passive")
    assert_eq("passive handshakes", n, 3)
    assert_between("passive handshake p50 ms", p50, 48.5, 57)  # 3% bucket error
    assert_between("passive handshake max ms", mx, 50, 58)
    n, (p50, _, _, _) = row("CLOSE_WAIT")
    assert_eq("close_wait count", n, 3)
    assert_between("close_wait p50 ms", p50, 97, 110)
    assert "ok 3" in out, out
    assert "usecs" in out and "distribution" in out, out


@test("summary: --by remote groups per peer")
def summary_by_remote():
    with Lab(delay_ms=5) as lab, Tracer("--by", "remote", "-L", "7402") as tr:
        workload(lab, 7402, 2, srv_delay="0")
        time.sleep(0.3)
        tr.stop()
    assert "10.231.0.1" in tr.out, tr.out


@test("stuck: a server that never closes is listed while stuck")
def stuck_close_wait():
    with SingleNs() as ns:
        p = subprocess.Popen([TCPPHASE, "--stuck", "1", "-L", "7403"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            assert p.stdout.readline().startswith("PID"), "no header"
            srv = peer(ns, ns.ns, "server", "127.0.0.1", 7403, "--then", "eof", "--delay", "30")
            wait_peer(peer(ns, ns.ns, "client", "127.0.0.1", 7403))
            t0 = time.time()
            line = p.stdout.readline()
            waited = time.time() - t0
            assert line.startswith("STUCK CLOSE_WAIT"), line
            assert f"pid {srv.pid} python3" in line, line
            assert_between("listed after s", waited, 0.9, 2.5)
        finally:
            p.terminate()
            p.wait(timeout=10)
            srv.kill()


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert_eq("status", r.status, 200)
        return r.read().decode()


def metric(text, name):
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


@test("metrics: scraped while connections flow, counts match the CSV; a stuck client")
def metrics_scrape():
    port = 19464
    with Lab(delay_ms=2) as lab, \
            Tracer("--csv", "-L", "7404", "--metrics", f"127.0.0.1:{port}") as tr:
        slow = socket.create_connection(("127.0.0.1", port))  # says nothing, stays open
        slow.send(b"GET /met")
        bad = socket.create_connection(("127.0.0.1", port))
        bad.send(b"\x00\xff garbage\r\n\r\n")
        for i in range(4):
            workload(lab, 7404, 1, srv_delay="0")
            text = scrape(port)  # while the slow client still hangs on
        time.sleep(1.5)  # the extra counters are refreshed once a second
        text = scrape(port)
        slow.close()
        bad.close()
        tr.stop()
    rows = [r for r in csv.DictReader(io.StringIO(tr.out)) if r["lport"] == "7404"]
    assert_eq("csv rows", len(rows), 4)
    got = metric(text, 'tcpphase_handshake_seconds_count{role="passive",lport="7404"}')
    if got is None:
        got = metric(text, 'tcpphase_handshake_seconds_count{role="passive"}')
    assert_eq("passive handshakes in metrics", got, 4.0)
    assert "# TYPE tcpphase_handshake_seconds histogram" in text
    assert re.search(r"^tcpphase_events_total \d+", text, re.M), text[:500]


@test("replay: -r gives the same records as the live run that recorded them")
def replay_equals_live():
    rec = f"/tmp/tcpphase-test-{os.getpid()}.tpp"
    with Lab(delay_ms=10) as lab, Tracer("--csv", "-W", rec, "-L", "7405") as tr:
        workload(lab, 7405, 3)
        time.sleep(0.2)
        tr.stop()
    try:
        assert_eq("file mode", oct(os.stat(rec).st_mode & 0o777), "0o600")
        os.chown(rec, 65534, 65534)  # replay needs no root: read it as nobody
        r = subprocess.run([TCPPHASE, "-r", rec, "--csv"], capture_output=True, text=True,
                           timeout=30,
                           preexec_fn=lambda: (os.setgroups([]), os.setgid(65534),
                                               os.setuid(65534)))
        assert_eq("replay status", r.returncode, 0)
        assert len(tr.out.splitlines()) == 4, tr.out
        assert_eq("replayed csv", r.stdout, tr.out)
    finally:
        os.unlink(rec)
