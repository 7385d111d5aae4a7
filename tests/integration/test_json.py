"""--json on real BPF: every line of every mode parses, its keys are the CSV
columns of the same mode, and a replay gives the same lines as the live run."""

import csv
import io
import json
import os
import subprocess
import sys
import time

from harness import TCPPHASE, Tracer, assert_eq, first_line, peer, test, wait_peer
from netlab import SingleNs

# --stuck and --summary have no CSV form: their keys as the man page lists them
STUCK_KEYS = ["time", "state", "stuck_us", "pid", "comm", "netns", "family", "laddr", "lport",
              "raddr", "rport", "cgroup", "workload"]
SUMMARY_KEYS = ["time", "interval_s", "connections", "partial", "results", "tw_end", "resets", "phases",
                "by", "groups_total", "groups"]

# a client whose comm is whatever bytes a task may name itself
ODD_COMM = b'q"\\\x01\t\xff\xc3'
ODD_CLIENT = f"""
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, ctypes.c_char_p({ODD_COMM!r}), 0, 0, 0)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.send(b"x")
s.close()
"""


class JsonTracer(Tracer):
    """A Tracer for --json, which prints no header: ready once -v says it traces."""

    def __init__(self, *args, **kw):
        super().__init__("-v", *args, **kw)

    def _wait_ready(self):
        deadline = time.time() + self.ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"tcpphase exited {self.proc.returncode}: "
                                     f"{open(self.errf.name).read().strip()[-500:]}")
            if "tracing, Ctrl-C to stop" in open(self.errf.name).read():
                time.sleep(0.1)
                return self
            time.sleep(0.05)
        raise AssertionError("tcpphase did not come up")


def parse(out):
    """Every line of out as JSON; fails on the first that is not."""
    objs = []
    for n, line in enumerate(out.splitlines(), 1):
        try:
            objs.append(json.loads(line))
        except ValueError as e:
            raise AssertionError(f"line {n} is not JSON ({e}): {line!r}") from None
        assert isinstance(objs[-1], dict), f"line {n} is not an object: {line!r}"
    return objs


def replay(rec, *args):
    # a CSV comm holds the raw bytes; JSON has U+FFFD where they are not UTF-8
    r = subprocess.run([TCPPHASE, "-r", rec, *args], capture_output=True, text=True,
                       errors="replace", timeout=60)
    assert_eq(f"replay {args} status", r.returncode, 0)
    return r.stdout


def same_as_csv(objs, csv_text):
    """The JSON objects hold the CSV rows: same keys in order, same values."""
    rows = list(csv.reader(io.StringIO(csv_text)))
    header, rows = rows[0], rows[1:]
    assert_eq("rows in JSON and CSV", len(objs), len(rows))
    for o, row in zip(objs, rows):
        assert_eq("keys", list(o.keys()), header)
        for k, v in zip(header, row):
            j = o[k]
            want = "" if j is None else str(j)
            assert isinstance(j, (int, str, type(None))), f"{k}: {j!r}"
            if isinstance(j, str):
                assert not j.isdigit() or k == "comm", f"{k} is a number as a string: {j!r}"
            assert_eq(f"{k} in JSON against CSV", want, v)


def workload(ns, port, n):
    for _ in range(n):
        srv = peer(ns, ns.ns, "server", "127.0.0.1", port, "--then", "eof")
        wait_peer(peer(ns, ns.ns, "client", "127.0.0.1", port))
        wait_peer(srv)


def run_mode(port, mode, work, side="-L"):
    """A live --json run of mode recorded with -W: (its output, the recording).
    side: -L traces the server ends, -D the client ends."""
    rec = f"/tmp/tcpphase-json-{os.getpid()}-{port}.tpp"
    with SingleNs() as ns, JsonTracer("--json", "-W", rec, side, str(port), *mode) as tr:
        work(ns)
        time.sleep(0.3)
        tr.stop()
    return tr.out, rec


@test("json: records parse, hold the CSV's keys and values, replay gives the same lines")
def json_records():
    port = 7501

    def work(ns):
        workload(ns, port, 3)
        srv = peer(ns, ns.ns, "server", "127.0.0.1", port, "--then", "eof")
        ns.run(ns.ns, [sys.executable, "-c", ODD_CLIENT, str(port)]).wait(timeout=20)
        wait_peer(srv)

    out, rec = run_mode(port, [], work, side="-D")
    try:
        objs = parse(out)
        assert_eq("records (client ends of 4 connections)", len(objs), 4)
        same_as_csv(objs, replay(rec, "--csv"))
        odd = [o for o in objs if o["role"] == "active" and o["comm"] not in ("python3",)]
        assert odd and odd[0]["comm"] == ODD_COMM.decode("utf-8", "replace"), \
            [o["comm"] for o in objs]
        assert all(isinstance(o["handshake_us"], int) for o in objs), objs[0]
        assert_eq("replayed JSON", replay(rec, "--json"), out)
    finally:
        os.unlink(rec)


@test("json: -e events parse, hold the CSV's keys and values, replay gives the same lines")
def json_events():
    port = 7502
    out, rec = run_mode(port, ["-e"], lambda ns: workload(ns, port, 2), side="-D")
    try:
        objs = parse(out)
        assert len(objs) >= 2 * 4, out  # each client end: several state changes
        same_as_csv(objs, replay(rec, "-e", "--csv"))
        assert {"SYN_SENT", "ESTABLISHED", "FIN_WAIT1"} <= {o["newstate"] for o in objs}, objs
        assert_eq("replayed JSON", replay(rec, "-e", "--json"), out)
    finally:
        os.unlink(rec)


@test("json: --summary and --by are one object per summary; replay gives the same line")
def json_summary():
    port = 7503
    for mode in (["--summary"], ["--by", "comm"]):
        out, rec = run_mode(port, mode, lambda ns: workload(ns, port, 3))
        try:
            objs = parse(out)
            assert_eq("summary lines", len(objs), 1)
            s = objs[0]
            assert_eq("keys", list(s.keys()), SUMMARY_KEYS)
            assert_eq("connections (server ends)", s["connections"], 3)
            assert_eq("ok handshakes", s["results"]["ok"], 3)
            hs = {p["phase"]: p for p in s["phases"]}
            assert_eq("passive handshakes", hs["handshake passive"]["count"], 3)
            assert isinstance(hs["handshake passive"]["p99_us"], int), hs
            assert_eq("no active handshake: null", hs["handshake active"]["p99_us"], None)
            if mode[0] == "--by":
                assert_eq("by", s["by"], "comm")
                assert s["groups"] and s["groups"][0]["group"] == "python3", s["groups"]
            assert_eq("replayed JSON", replay(rec, "--json", *mode), out)
        finally:
            os.unlink(rec)


@test("json: --stuck lines are objects with the stuck columns")
def json_stuck():
    port = 7504
    with SingleNs() as ns:
        p = subprocess.Popen([TCPPHASE, "--json", "--stuck", "1", "-L", str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        srv = None
        try:
            time.sleep(2)  # no header to wait for: give it time to attach
            srv = peer(ns, ns.ns, "server", "127.0.0.1", port, "--then", "eof", "--delay", "30")
            wait_peer(peer(ns, ns.ns, "client", "127.0.0.1", port))
            line = first_line(p)  # communicate() below reads the pipe itself
        finally:
            p.terminate()
            rest, err = p.communicate(timeout=10)
            if srv:
                srv.kill()
    objs = parse(line + rest)
    stuck = [o for o in objs if "stuck_us" in o]
    assert stuck, line + rest + err
    assert_eq("keys", list(stuck[0].keys()), STUCK_KEYS)
    assert_eq("state", stuck[0]["state"], "CLOSE_WAIT")
    assert_eq("pid", stuck[0]["pid"], srv.pid)
    assert stuck[0]["stuck_us"] >= 1000000, stuck[0]
    # the records written on exit are JSON too, with the record keys
    assert all("stuck_us" in o or "start_time" in o for o in objs), objs
