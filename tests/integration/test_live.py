"""Live outputs: each phase counted when it ends, open connections seen, and
endpoints per state now, on real BPF.

Both ends of every test connection use ports from one range (clients bind
theirs), so -L and -D with that range (16 ports at most) select both sides
and nothing else on the host.
"""

import csv
import io
import re
import subprocess
import sys
import time
import urllib.request

from harness import Tracer, assert_eq, peer, test, wait_peer
from netlab import SingleNs, sockets, wait_for
from truth import stamps



def ports(lo, hi):
    return ("-L", f"{lo}-{hi}", "-D", f"{lo}-{hi}")

METRICS_PORT = 19471


def scrape():
    url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def handshakes(text, role):
    """The handshakes of a role, summed over the lport label's values."""
    return sum(float(v) for v in re.findall(
        rf'^tcpphase_handshake_seconds_count\{{role="{role}"[^}}]*\}} (\S+)$', text, re.M))


def now_ms():
    return time.monotonic_ns() / 1e6


@test("live: a connection held open shows in /metrics and --open within 2 s")
def live_held_open():
    with SingleNs() as ns, Tracer("--csv", "--open", "--metrics", f"127.0.0.1:{METRICS_PORT}",
                                  *ports(7700, 7701)) as tr:
        srv = peer(ns, ns.ns, "server", "127.0.0.1", 7700, "--then", "close", "--delay", "3")
        cli = peer(ns, ns.ns, "client", "127.0.0.1", 7700, "--bind-port", "7701", "--then",
                   "eof")
        wait_for("the connection", lambda: any(s[0] == "ESTAB" for s in sockets(ns.ns, 7700)))
        t0 = now_ms()
        wait_for("both handshakes in the metrics",
                 lambda: handshakes(scrape(), "active") == 1 and
                 handshakes(scrape(), "passive") == 1, timeout=2.0)

        def open_rows():
            with open(tr.outf.name) as f:
                return [r for r in csv.DictReader(f) if r["row"] == "open"]
        wait_for("both --open rows", lambda: len(open_rows()) == 2, timeout=2.0)
        seen = now_ms() - t0
        rows = open_rows()
        # still open: the server holds it 3 s
        assert any(s[0] == "ESTAB" for s in sockets(ns.ns, 7700)), "closed already"
        cout = wait_peer(cli)
        wait_peer(srv)
        ns.settle(7700)
        tr.stop()
    assert_eq("roles", sorted(r["role"] for r in rows), ["active", "passive"])
    conn = stamps(cout)["connect"]
    for r in rows:
        assert_eq("result", r["result"], "ok")
        assert r["handshake_us"] and int(r["handshake_us"]) / 1000 <= conn[1] - conn[0] + 0.5, r
        assert_eq("syn_retrans", r["syn_retrans"], "0")
        assert_eq("no close yet", r["closer"], "")
    a = [r for r in rows if r["role"] == "active"][0]
    assert_eq("active pid", a["pid"], str(cli.pid))
    ends = [r for r in csv.DictReader(io.StringIO(tr.out)) if r["row"] == "end"]
    assert_eq("each endpoint's own row follows", len(ends), 2)
    print(f"  (seen {seen:.0f} ms after the connection was up)")


@test("live: 20 closed connections give 40 handshakes in the metrics within 1.5 s")
def live_closed_counted():
    # two servers, ten client ports: twenty connections in twelve ports
    with SingleNs() as ns, Tracer("--metrics", f"127.0.0.1:{METRICS_PORT}", *ports(7710, 7721)):
        for port in (7710, 7711):
            srv = peer(ns, ns.ns, "server", "127.0.0.1", port, "--count", 10)
            wait_peer(peer(ns, ns.ns, "client", "127.0.0.1", port, "--count", 10, "--conc", 4,
                           "--bind-base", 7712))
            wait_peer(srv)
            ns.settle(port)  # the clients sit in TIME_WAIT for a minute
        wait_for("40 handshakes", lambda: (handshakes(scrape(), "active"),
                                          handshakes(scrape(), "passive")) == (20, 20),
                 timeout=1.5)


def ss_counts(ns, lo, hi):
    """ss's view of the test range, by tcpphase's state names."""
    got = {}
    out = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tanH",
                          f"( sport >= :{lo} and sport <= :{hi} and "
                          f"dport >= :{lo} and dport <= :{hi} )"],
                         capture_output=True, text=True, check=True).stdout
    names = {"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
             "FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT",
             "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK", "CLOSING": "CLOSING",
             "LISTEN": "LISTEN"}
    for line in out.splitlines():
        st = names.get(line.split()[0])
        if st:
            got[st] = got.get(st, 0) + 1
    return got


def gauges(text):
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'^tcpphase_endpoints\{state="(\w+)"\} (\d+)$', text, re.M)
            if int(m.group(2))}


HOLD = """
import os, socket, sys, time
def conn(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.connect(("127.0.0.1", 7750))
    return s
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 7750))
ls.listen(16)
before = [conn(7751), conn(7752)]
held = [ls.accept()[0] for _ in before]
print("ready", flush=True)
sys.stdin.readline()
after = [conn(p) for p in (7753, 7754, 7755)]
held += [ls.accept()[0] for _ in after]
after[0].close()                    # client FIN_WAIT2, server CLOSE_WAIT
held[3].close()                     # server closes first: an orphan ...
time.sleep(0.2)
after[1].close()                    # ... in TIME_WAIT once the client closes
before[0].close()                   # opened before tracing: FIN_WAIT2/CLOSE_WAIT
print("done", flush=True)
sys.stdin.readline()
"""


@test("live: endpoints per state agree with ss, sockets open before tracing included")
def live_state_gauges():
    with SingleNs() as ns:
        hold = subprocess.Popen(["ip", "netns", "exec", ns.ns, sys.executable, "-c", HOLD],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert_eq("workload", hold.stdout.readline().strip(), "ready")
            with Tracer("--summary", "--metrics", f"127.0.0.1:{METRICS_PORT}",
                        *ports(7750, 7755)) as tr:
                hold.stdin.write("go\n")
                hold.stdin.flush()
                assert_eq("workload", hold.stdout.readline().strip(), "done")
                ns.settle(7750, keep=("TIME-WAIT", "LISTEN", "ESTAB", "CLOSE-WAIT",
                                      "FIN-WAIT-2"))
                want = ss_counts(ns.ns, 7750, 7755)
                # (the listener's remote port 0 is outside the range: not counted)
                assert_eq("ss's view", want, {"ESTABLISHED": 4, "CLOSE_WAIT": 2,
                                              "FIN_WAIT2": 2, "TIME_WAIT": 1})
                # the gauges are refreshed once a second
                wait_for(f"the gauges to read {want}", lambda: gauges(scrape()) == want,
                         timeout=5)
                tr.stop()
            m = re.search(r"^endpoints now:(.*)$", tr.out, re.M)
            assert m, tr.out
            got = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", m.group(1)) if int(v)}
            assert_eq("--summary's endpoints now", got, want)
        finally:
            hold.kill()
            hold.wait()


@test("live: at exit the summary reconciles exactly with the CSV rows")
def live_reconciles():
    with SingleNs() as ns, Tracer("--csv", *ports(7760, 7773)) as rows_tr, \
            Tracer("--summary", *ports(7760, 7773)) as sum_tr:
        # closed both ways, one held open at exit, one refused
        for port, cli_then, srv_then in ((7760, "close", "eof"), (7761, "eof", "close")):
            srv = peer(ns, ns.ns, "server", "127.0.0.1", port, "--then", srv_then)
            wait_peer(peer(ns, ns.ns, "client", "127.0.0.1", port, "--bind-port", port + 10,
                           "--then", cli_then))
            wait_peer(srv)
        held = peer(ns, ns.ns, "server", "127.0.0.1", 7762, "--then", "eof", "--delay", "30")
        cli = peer(ns, ns.ns, "client", "127.0.0.1", 7762, "--bind-port", 7772, "--then", "eof")
        wait_peer(peer(ns, ns.ns, "client", "127.0.0.1", 7763, "--bind-port", 7773))
        wait_for("the held connection", lambda: any(s[0] == "ESTAB"
                                                    for s in sockets(ns.ns, 7762)))
        ns.settle(7760)
        ns.settle(7761)
        rows_tr.stop()
        sum_tr.stop()
        held.kill()
        cli.kill()
    rows = rows_tr.rows()
    out = sum_tr.out

    def count(name):
        m = re.search(rf"^{name}\s+(\d+)", out, re.M)
        assert m, f"no {name} row in:\n{out}"
        return int(m.group(1))

    def n(pred):
        return sum(1 for r in rows if pred(r))

    def cut(r, col):
        """The phase a row was cut short in at exit: not in the summary."""
        return r["tw_end"] == "in_progress" and col == "time_wait_us"

    assert_eq("endpoints", len(rows), 7)  # 2 + 2 + 2 held + 1 refused
    for role in ("active", "passive"):
        assert_eq(f"handshake {role}", count(f"handshake {role}"),
                  n(lambda r: r["role"] == role and r["result"] == "ok"
                    and r["handshake_us"] != ""))
    for phase, col in (("FIN_WAIT1", "fin_wait1_us"), ("FIN_WAIT2", "fin_wait2_us"),
                       ("CLOSE_WAIT", "close_wait_us"), ("LAST_ACK", "last_ack_us"),
                       ("TIME_WAIT", "time_wait_us")):
        assert_eq(phase, count(phase), n(lambda r: r[col] != "" and not cut(r, col)))
    m = re.search(r"^results\s+ok (\d+)\s+refused (\d+)", out, re.M)
    assert m, out
    assert_eq("results ok", int(m.group(1)), n(lambda r: r["result"] == "ok"))
    assert_eq("results refused", int(m.group(2)), n(lambda r: r["result"] == "refused"))
    m = re.search(r"over [\d.]+ s: (\d+) connections", out)
    assert m, out
    assert_eq("records", int(m.group(1)), len(rows))
