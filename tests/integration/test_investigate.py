"""Summaries, stuck sockets, Prometheus metrics and record/replay, on real BPF."""

import csv
import io
import math
import os
import re
import socket
import subprocess
import time
import urllib.request

from harness import (TCPPHASE, OwnCgroup, Tracer, assert_eq, check_loss_arithmetic, loss_line,
                     ms, netns_inode, peer, run_port, test, wait_peer)
from netlab import Lab, SingleNs, wait_for
from truth import SLACK_MS, connections, check, stamps

# a percentile is read from a log-linear histogram: at most 1/32 off
BUCKET = 1 / 32
SLACK_US = SLACK_MS * 1000


def workload(lab, port, n, srv_delay="0.1"):
    """n connections A -> B, client closes first, server waits srv_delay;
    returns the servers' stamps, in order."""
    got = []
    for _ in range(n):
        srv = peer(lab, lab.ns_b, "server", lab.addr_b, port, "--then", "eof",
                   "--delay", srv_delay)
        wait_peer(peer(lab, lab.ns_a, "client", lab.addr_b, port))
        got.append(stamps(wait_peer(srv)))
    lab.settle(port)
    return got


PHASES = ("handshake active", "handshake passive", "accept wait", "FIN_WAIT1", "FIN_WAIT2",
          "CLOSE_WAIT", "LAST_ACK", "CLOSING", "TIME_WAIT")
RESULTS = ("ok", "refused", "timeout", "reset", "unreachable", "aborted", "other", "none")
TW_ENDS = ("expired", "reused", "recycled", "killed", "none", "in_progress")


def parse_summary(out):
    """The --summary text, field by field: connections, partial, results and
    tw_end counts, each phase row (count, [p50, p90, p99, max] or None), each
    histogram ({phase: [(lo_us, hi_us, count)]}), the groups of --by
    ({group: (connections, {phase: row})}) and the endpoints-now gauges."""
    m = re.search(r"^tcpphase summary over [\d.]+ s: (\d+) connections, (\d+) partial$", out,
                  re.M)
    assert m, f"no summary header in:\n{out}"
    got = {"connections": int(m.group(1)), "partial": int(m.group(2)), "phases": {},
           "hist": {}, "groups": {}, "endpoints": {}}
    m = re.search(r"^results\s+(.*)\n\s+(.*)$", out, re.M)
    assert m, out
    got["results"] = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", m.group(1) + m.group(2))}
    assert_eq("result names", tuple(got["results"]), RESULTS)
    m = re.search(r"^tw_end\s+(.*)$", out, re.M)
    got["tw_end"] = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", m.group(1))}
    assert_eq("tw_end names", tuple(got["tw_end"]), TW_ENDS)
    row = re.compile(r"^(\s*)(" + "|".join(PHASES) + r")\s+(\d+)\s+(-|[\d.]+)\s+(-|[\d.]+)"
                     r"\s+(-|[\d.]+)\s+(-|[\d.]+)$")
    group = None
    for line in out.splitlines():
        g = re.match(r"^\w+ (\S+): (\d+) connections$", line)
        if g:
            group = got["groups"].setdefault(g.group(1), (int(g.group(2)), {}))
            continue
        r = row.match(line)
        if r:
            figs = r.groups()[3:]
            val = (int(r.group(3)), None if "-" in figs else [float(x) for x in figs])
            (group[1] if r.group(1) and group else got["phases"])[r.group(2)] = val
    assert_eq("phase rows", tuple(got["phases"]), PHASES)
    for name, body in re.findall(r"^(.+):\n\s+usecs\s+: count\s+distribution\n((?:.+\|\n?)+)",
                                 out, re.M):
        got["hist"][name] = [tuple(map(int, b)) for b in
                             re.findall(r"^\s+(\d+) -> (\d+)\s+: (\d+)", body, re.M)]
    m = re.search(r"^endpoints now: (.*)$", out, re.M)
    assert m, out
    got["endpoints"] = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", m.group(1))}
    return got


def check_phase(what, fig, ranges):
    """A phase row against the ranges its values are known to lie in: its
    count, each percentile as that quantile, the max as the largest."""
    n, q = fig
    assert_eq(f"{what} count", n, len(ranges))
    p50, p90, p99, mx = q
    assert p50 <= p90 <= p99 <= mx * (1 + BUCKET), f"{what}: percentiles out of order: {q}"
    check_percentile(f"{what} p50 ms", p50, ranges, 0.5)
    check_percentile(f"{what} p90 ms", p90, ranges, 0.9)
    check_percentile(f"{what} p99 ms", p99, ranges, 0.99)
    check(f"{what} max ms", mx, max(r[0] for r in ranges), max(r[1] for r in ranges))


def check_histogram(what, hist, ranges):
    """Its log2 buckets hold one value per range, each value's bucket one that
    its range reaches."""
    assert_eq(f"{what} histogram total", sum(c for _, _, c in hist), len(ranges))
    for lo, hi, c in hist:
        # the values in [lo, hi] us: at least c ranges must reach that bucket
        reach = sum(1 for r in ranges if r[0] * 1000 - SLACK_US <= hi + 1 and
                    r[1] * 1000 + SLACK_US >= lo)
        assert reach >= c, f"{what}: {c} values in {lo}..{hi} us, but only {reach} ranges " \
                           f"reach it: {ranges}"


def last_acks(wires, srv_stamps):
    """Per connection, the server's LAST_ACK: from its close() (before its FIN
    left) to the delivery of the client's ACK of that FIN."""
    got = []
    for w, st in zip(wires, srv_stamps):
        fin = w.first("ba", "F")
        ack = w.first("ab", "A", "F", after=fin.wr0)
        got.append((ack.wr0 - fin.read, ack.wr1 - st["close"][0]))
    return got


def passive_figures(wires, srv_stamps):
    """What happened, per passive endpoint, as (lo, hi) ms per phase: the
    handshake (SYN-ACK's departure to the final ACK's delivery, SYN's
    delivery to accept()'s return), the CLOSE_WAIT (EOF read to close(),
    FIN in to FIN out) and the LAST_ACK."""
    return {
        "handshake passive": [(w.handshake_ack().wr0 - w.synack().read,
                               st["accept"][1] - w.syn().wr0)
                              for w, st in zip(wires, srv_stamps)],
        "CLOSE_WAIT": [(st["close"][0] - st["eof"][1],
                        w.first("ba", "F").read - w.first("ab", "F").wr0)
                       for w, st in zip(wires, srv_stamps)],
        "LAST_ACK": last_acks(wires, srv_stamps),
    }


def check_passive_summary(figs, phases, hist, n):
    """The summary of n passive endpoints (-L the server's port) whose client
    closed first: each phase the server went through against what happened,
    every other phase empty."""
    for name in PHASES:
        if name in figs:
            check_phase(name, phases[name], figs[name])
            if hist is not None:
                check_histogram(name, hist.get(name, []), figs[name])
        else:
            assert_eq(f"{name} row", phases[name], (0, None))
            if hist is not None:
                assert name not in hist, f"a histogram for {name}: {hist[name]}"


def check_totals(got, n):
    assert_eq("connections", got["connections"], n)
    assert_eq("partial", got["partial"], 0)
    assert_eq("results", got["results"], {k: n if k == "ok" else 0 for k in RESULTS})
    # the server closes second: no TIME_WAIT on its side
    assert_eq("tw_end", got["tw_end"], {k: n if k == "none" else 0 for k in TW_ENDS})
    # every endpoint of the port is gone at exit (lab.settle)
    assert_eq("endpoints now", set(got["endpoints"].values()), {0})


def check_percentile(what, value, ranges, q):
    """value is the q-quantile (nearest rank, as tcpphase reads it) of values
    each known to lie in its range."""
    los, his = sorted(r[0] for r in ranges), sorted(r[1] for r in ranges)
    i = max(0, math.ceil(q * len(ranges)) - 1)
    check(what, value, los[i] * (1 - BUCKET), his[i] * (1 + BUCKET))


@test("summary: per-phase figures against a 25 ms delay line")
def summary_figures():
    port = run_port(1)
    with OwnCgroup() as cg, Lab(delay_ms=25) as lab, \
            Tracer("--summary", "-L", str(port), *cg.tracer_args()) as tr:
        srv_stamps = workload(lab, port, 3)
        tr.stop()
        wires = connections(lab.packets(), port)
    assert_eq("connections on the wire", len(wires), 3)
    got = parse_summary(tr.out)
    check_totals(got, 3)
    check_passive_summary(passive_figures(wires, srv_stamps), got["phases"], got["hist"], 3)
    assert_eq("groups without --by", got["groups"], {})


@test("summary: --by remote groups per peer")
def summary_by_remote():
    port = run_port(2)
    with OwnCgroup() as cg, Lab(delay_ms=5) as lab, \
            Tracer("--by", "remote", "-L", str(port), *cg.tracer_args()) as tr:
        srv_stamps = workload(lab, port, 2, srv_delay="0")
        tr.stop()
        wires = connections(lab.packets(), port)
    assert_eq("connections on the wire", len(wires), 2)
    got = parse_summary(tr.out)
    check_totals(got, 2)
    figs = passive_figures(wires, srv_stamps)
    check_passive_summary(figs, got["phases"], got["hist"], 2)
    assert re.search(r"^by remote: 1 of 1 groups, worst p99 first$", tr.out, re.M), tr.out
    # one peer: its group holds every figure, and only the phases it went through
    assert_eq("groups", list(got["groups"]), [lab.addr_a])
    n, phases = got["groups"][lab.addr_a]
    assert_eq(f"{lab.addr_a} connections", n, 2)
    assert_eq(f"{lab.addr_a} phases", sorted(phases), sorted(figs))
    for name in figs:
        assert_eq(f"{lab.addr_a} {name}", phases[name], got["phases"][name])


@test("stuck: a server that never closes is listed while stuck")
def stuck_close_wait():
    with SingleNs() as ns:
        p = subprocess.Popen([TCPPHASE, "--stuck", "1", "-L", "7403"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            assert p.stdout.readline().startswith("PID"), "no header"
            srv = peer(ns, ns.ns, "server", "127.0.0.1", 7403, "--then", "eof", "--delay", "30")
            closed = stamps(wait_peer(peer(ns, ns.ns, "client", "127.0.0.1", 7403)))["close"]
            line = p.stdout.readline()
            listed = time.monotonic_ns() / 1e6
            assert line.startswith("STUCK CLOSE_WAIT"), line
            assert f"pid {srv.pid} python3" in line, line
            # never before it has sat in CLOSE_WAIT for the 1 s asked for
            # (it entered it within the client's close())
            assert listed - closed[0] >= 1000, f"listed {listed - closed[0]:.1f} ms after close"
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


def passive_handshakes(text, lport):
    got = metric(text, f'tcpphase_handshake_seconds_count{{role="passive",lport="{lport}"}}')
    if got is None:
        got = metric(text, 'tcpphase_handshake_seconds_count{role="passive"}')
    return got


def samples(text):
    """Every sample of a scrape: {(name, frozenset of label pairs): value};
    each family announced with HELP and TYPE before its samples."""
    got, typed = {}, set()
    for line in text.splitlines():
        m = re.match(r"^# TYPE (\w+) (counter|gauge|histogram)$", line)
        if m:
            typed.add(m.group(1))
            continue
        if line.startswith("#") or not line:
            continue
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        assert m, f"not a sample: {line!r}"
        name, labels = m.group(1), frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or family in typed, f"{name} before its TYPE line"
        assert (name, labels) not in got, f"{line} twice"
        got[(name, labels)] = float(m.group(3))
    return got


# the histograms and which CSV column each is (role/phase label: its value)
HISTOGRAMS = (
    ("tcpphase_handshake_seconds", "role", {"active": None, "passive": "handshake_us"}),
    ("tcpphase_accept_wait_seconds", None, {None: "accept_wait_us"}),
    ("tcpphase_phase_seconds", "phase", {"fin_wait1": "fin_wait1_us", "fin_wait2": "fin_wait2_us",
                                         "close_wait": "close_wait_us",
                                         "last_ack": "last_ack_us", "closing": "closing_us"}),
    ("tcpphase_time_wait_seconds", None, {None: "time_wait_us"}),
)


def check_histogram_series(got, rows, lport):
    """Each histogram of lport (and of "other") against the CSV rows: count,
    sum and every cumulative bucket."""
    for name, key, cols in HISTOGRAMS:
        for value, col in cols.items():
            for port in (lport, "other"):
                labels = {("lport", port)} | ({(key, value)} if key else set())
                what = f"{name}{{{','.join(f'{k}={v}' for k, v in sorted(labels))}}}"
                us = [int(r[col]) for r in rows if col and r[col] != ""] if port == lport \
                    else []
                buckets = sorted(((float(dict(k)["le"]), v) for (n, k), v in got.items()
                                  if n == name + "_bucket" and labels <= k),
                                 key=lambda b: b[0])
                assert buckets, f"no {what} buckets"
                assert_eq(f"{what} +Inf bucket", buckets[-1], (float("inf"), len(us)))
                for le, v in buckets:
                    # CSV values are whole us, the metrics' ns: a value within
                    # a us of a bound could fall either side
                    below = sum(1 for u in us if u <= le * 1e6 - 1)
                    near = sum(1 for u in us if le * 1e6 - 1 < u <= le * 1e6 + 1)
                    assert below <= v <= below + near, \
                        f"{what} le={le}: {v}, the CSV has {below} (+{near} at the bound)"
                labels = frozenset(labels)
                assert_eq(f"{what} count", got.get((name + "_count", labels)), float(len(us)))
                total = got.get((name + "_sum", labels))
                assert total is not None and abs(total - sum(us) / 1e6) <= len(us) * 1e-6, \
                    f"{what} sum = {total}, the CSV's {sum(us) / 1e6}"


@test("metrics: scraped while connections flow, counts match the CSV; a stuck client")
def metrics_scrape():
    port, lport = run_port(3), str(run_port(4))  # metrics, traced
    with OwnCgroup() as cg, Lab(delay_ms=2) as lab, \
            Tracer("--csv", "-L", lport, "--metrics", f"127.0.0.1:{port}",
                   *cg.tracer_args()) as tr:
        slow = socket.create_connection(("127.0.0.1", port))  # says nothing, stays open
        slow.send(b"GET /met")
        bad = socket.create_connection(("127.0.0.1", port))
        bad.send(b"\x00\xff garbage\r\n\r\n")
        for i in range(4):
            workload(lab, int(lport), 1, srv_delay="0")
            text = scrape(port)  # while the slow client still hangs on
        # a handshake reaches the metrics as it completes, a close once its
        # record comes in: the server closes second here, so its endpoints end
        # with no TIME_WAIT, counted (end "none") with their last phase; the
        # extra counters are refreshed once a second
        def all_counted():
            got = samples(scrape(port))
            done = {("role", "passive"), ("result", "ok"), ("lport", lport)}
            ends = sum(v for k, v in got.items() if k[0] == "tcpphase_time_wait_end_total"
                       and ("lport", lport) in k[1])
            return got.get(("tcpphase_connections_total", frozenset(done))) == 4.0 and \
                ends == 4.0 and got.get(("tcpphase_events_total", frozenset())) and \
                passive_handshakes(scrape(port), lport) == 4.0
        wait_for("the 4 handshakes and closes and the event counter in the metrics",
                 all_counted)
        # the gauges are read once a second too: the port's last endpoints
        # (all gone, lab.settle) leave them within that
        wait_for("every endpoint gauge back to 0", lambda: not any(
            v for k, v in samples(scrape(port)).items() if k[0] == "tcpphase_endpoints"),
            timeout=5)
        text = scrape(port)
        slow.close()
        bad.close()
        tr.stop()
    rows = [r for r in csv.DictReader(io.StringIO(tr.out)) if r["lport"] == lport]
    assert len(rows) == 4 == len(tr.rows()), f"4 rows expected, -L: only the server's:\n" \
        f"{tr.out}{tr.err}"
    got = samples(text)
    assert "# TYPE tcpphase_handshake_seconds histogram" in text
    assert_eq("passive handshakes in metrics", passive_handshakes(text, lport), 4.0)
    check_histogram_series(got, rows, lport)
    for role in ("active", "passive", "unknown"):
        for result in RESULTS:
            for port_label in (lport, "other"):
                labels = frozenset({("role", role), ("result", result), ("lport", port_label)})
                want = sum(1 for r in rows if (r["role"], r["result"]) == (role, result)
                           and port_label == lport)
                assert_eq(f"connections_total{{{role},{result},{port_label}}}",
                          got.get(("tcpphase_connections_total", labels)), float(want))
    for end in TW_ENDS:
        for port_label in (lport, "other"):
            want = sum(1 for r in rows if r["tw_end"] == end and port_label == lport)
            assert_eq(f"time_wait_end_total{{{end},{port_label}}}",
                      got.get(("tcpphase_time_wait_end_total",
                               frozenset({("end", end), ("lport", port_label)}))), float(want))
    # no reset in this run; every reset series there, at 0
    resets = {k: v for k, v in got.items() if k[0].startswith("tcpphase_resets")}
    assert len(resets) >= 12 and set(resets.values()) == {0.0}, resets
    # the counters read before the exit, against the final loss line
    loss = loss_line(tr.err)
    check_loss_arithmetic(loss)
    assert_eq("records", loss["records"], 4)
    events = got[("tcpphase_events_total", frozenset())]
    assert 0 < events <= loss["events"], f"events_total {events}, {loss['events']} at exit"
    for reason, key in (("ringbuf", "ringbuf"), ("recursion", "recursion"),
                        ("table_full", "table_full")):
        v = got[("tcpphase_lost_events_total", frozenset({("reason", reason)}))]
        assert v <= loss[key], f"lost_events_total{{{reason}}} = {v}, {loss[key]} at exit"
    assert got[("tcpphase_rescued_events_total", frozenset())] <= loss["rescued"]
    assert_eq("partial_records_total", got[("tcpphase_partial_records_total", frozenset())],
              float(sum(1 for r in rows if r["partial"] != "0")))
    for name in ("tw", "tw_killed", "tw_recycled", "tw_overflow"):  # the host's: any count
        assert got[(f"tcpphase_kernel_{name}_total", frozenset())] >= 0
    assert got[("tcpphase_kernel_tw_live", frozenset())] >= 0
    # every endpoint of the port was gone (lab.settle): no state holds one
    states = ("ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
              "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING")
    gauges = {st: got.get(("tcpphase_endpoints", frozenset({("state", st)}))) for st in states}
    assert set(gauges.values()) == {0.0}, f"endpoints now: {gauges}\n{tr.out}{tr.err}"


@test("replay: -r gives the same records as the live run that recorded them")
def replay_equals_live():
    rec = f"/tmp/tcpphase-test-{os.getpid()}.tpp"
    port = run_port(5)
    with Lab(delay_ms=10) as lab, Tracer("--csv", "-W", rec, "-L", str(port)) as tr:
        srv_stamps = workload(lab, port, 3)
        tr.stop()
        wires = connections(lab.packets(), port)
        netns = netns_inode(lab.ns_b)
    try:
        assert_eq("file mode", oct(os.stat(rec).st_mode & 0o777), "0o600")
        # made to be shared: no kernel address in it (the upper, kernel half
        # of the canonical x86-64 space), at any byte offset
        data = open(rec, "rb").read()
        for off in range(len(data) - 7):
            v = int.from_bytes(data[off:off + 8], "little")
            assert v < 0xffff800000000000, f"a kernel address at byte {off}: {v:#x}"
        os.chown(rec, 65534, 65534)  # replay needs no root: read it as nobody
        r = subprocess.run([TCPPHASE, "-r", rec, "--csv"], capture_output=True, text=True,
                           timeout=30,
                           preexec_fn=lambda: (os.setgroups([]), os.setgid(65534),
                                               os.setuid(65534)))
        assert_eq("replay status", r.returncode, 0)
        assert_eq("replayed csv", r.stdout, tr.out)
    finally:
        os.unlink(rec)
    # what was recorded is what happened: the 3 server ends, field by field
    # (of the lab's netns: the port may be another's ephemeral one)
    rows = [r for r in tr.rows() if r["netns"] == netns]
    assert_eq("rows", len(rows), 3)
    assert_eq("connections on the wire", len(wires), 3)
    figs = passive_figures(wires, srv_stamps)
    by_port = {r["rport"]: r for r in rows}
    for i, w in enumerate(wires):
        cport = str(w.syn().sport)
        assert cport in by_port, f"no row for client port {cport}: {rows}"
        row = by_port[cport]
        for col, want in (("netns", netns), ("family", "ipv4"), ("role", "passive"),
                          ("laddr", lab.addr_b), ("lport", str(port)), ("raddr", lab.addr_a),
                          ("result", "ok"), ("syn_retrans", "0"), ("closer", "remote"),
                          ("tw_end", "none"), ("partial", "0"), ("rst", ""),
                          ("fin_wait1_us", ""), ("fin_wait2_us", ""), ("closing_us", ""),
                          ("time_wait_us", "")):
            assert_eq(f"{cport} {col}", row[col], want)
        for col, phase in (("handshake_us", "handshake passive"),
                           ("close_wait_us", "CLOSE_WAIT"), ("last_ack_us", "LAST_ACK")):
            check(f"{cport} {col} ms", ms(row, col), *figs[phase][i])
