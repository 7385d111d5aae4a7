"""The listener view (--listeners) on real BPF: drops on a full accept queue
against the kernel's own ListenOverflows, the queue lengths a listener's
SYNs and accepts saw, and its accept waits against the workload's clock.
"""

import json
import os
import re
import subprocess
import sys
import urllib.request

from harness import Tracer, assert_eq
from harness import test
from netlab import SingleNs, wait_for

LISTENPEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "listenpeer.py")
COLUMNS = ("netns", "laddr", "owner", "backlog", "syns", "requests", "handshakes", "accepts",
           "rtx", "ovf_syn", "ovf_ack", "synq_drops", "cookies", "q_syn", "q_accept",
           "accept_wait_ms")


def listener_rows(out):
    """The last listener table printed, as dicts of COLUMNS."""
    blocks = out.split("listeners:\n")
    if len(blocks) < 2:
        raise AssertionError(f"no listener table in: {out!r}")
    lines = blocks[-1].splitlines()
    assert lines[0].split()[:3] == ["NETNS", "LADDR:PORT", "PID/COMM"], lines[0]
    rows = []
    for line in lines[1:]:
        f = line.split()
        if len(f) != len(COLUMNS):
            break
        rows.append(dict(zip(COLUMNS, f)))
    return rows


def row_for(out, port):
    rows = [r for r in listener_rows(out) if r["laddr"].endswith(f":{port}")]
    assert_eq(f"listener rows for port {port}", len(rows), 1)
    return rows[0]


def queue(field):
    """p50/p99/max of a queue column."""
    return [int(v) for v in field.split("/")]


def netstat(ns):
    """The TcpExt counters of a netns (a fresh one starts them at zero)."""
    text = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/netstat"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    for names, values in zip(text[::2], text[1::2]):
        if names.startswith("TcpExt:"):
            return dict(zip(names.split()[1:], map(int, values.split()[1:])))
    raise AssertionError("no TcpExt in /proc/net/netstat")


def start(ns, *args):
    p = ns.run(ns.ns, [sys.executable, LISTENPEER, *map(str, args)], stdin=subprocess.PIPE,
               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p


def finish(p):
    out, err = p.communicate("", timeout=60)
    if p.returncode:
        raise AssertionError(f"listenpeer failed ({p.returncode}): {err.strip()}")
    return out


def until_done(srv):
    """The server's lines up to its "done" (it has accepted what it will)."""
    out = ""
    for line in srv.stdout:
        out += line
        if line.strip() == "done":
            break
    return out


def stamp(out, name):
    m = re.search(rf"^@{name} (.*)$", out, re.M)
    assert m, f"no @{name} in {out!r}"
    return [float(v) for v in m.group(1).split()]


@test("listeners: a full accept queue: overflows equal the kernel's ListenOverflows")
def listeners_overflow():
    port, backlog, n = 7730, 1, 20
    go = f"/tmp/tcpphase-listen-go-{os.getpid()}"
    with SingleNs() as ns, Tracer("--listeners", "-L", str(port)) as tr:
        k0 = netstat(ns.ns)
        srv = start(ns, "server", port, backlog, go, -1)
        assert_eq("server", srv.stdout.readline().strip(), "ready")
        # long enough for each dropped SYN to be sent again once (1 s)
        cli = start(ns, "clients", port, n, 2.5, go)
        cout = finish(cli)
        k1 = netstat(ns.ns)
        sout = finish(srv)
        tr.stop()
    os.unlink(go)
    assert "done" in sout
    r = row_for(tr.out, port)
    overflows = k1["ListenOverflows"] - k0["ListenOverflows"]
    assert overflows >= n - backlog - 1, f"the kernel counted {overflows} overflows only"
    assert_eq("overflows (SYN + final ACK) against TcpExtListenOverflows",
              int(r["ovf_syn"]) + int(r["ovf_ack"]), overflows)
    assert_eq("backlog", r["backlog"], str(backlog))
    # the accept queue is full at backlog + 1 children, as the kernel counts
    assert_eq("longest queue a SYN found", queue(r["q_syn"])[2], backlog + 1)
    assert_eq("handshakes", r["handshakes"], str(backlog + 1))
    assert_eq("requests", r["requests"], str(backlog + 1))
    established = int(re.search(r"^established (\d+)$", cout, re.M).group(1))
    assert_eq("the clients' own count of established", established,
              backlog + 1 + int(r["ovf_ack"]))
    assert_eq("every SYN accounted for",
              int(r["syns"]), int(r["requests"]) + int(r["ovf_syn"]) + int(r["synq_drops"]) +
              int(r["cookies"]))
    assert_eq("accepts", r["accepts"], "0")
    assert_eq("owner", r["owner"], f"{srv.pid}/python3")
    assert "lost 0 " in tr.err, tr.err


@test("listeners: a slow acceptor: its queue after each accept and the accept waits")
def listeners_slow_accept():
    port, n, gap_ms = 7731, 10, 40
    go = f"/tmp/tcpphase-listen-go-{os.getpid()}"
    with SingleNs() as ns, Tracer("--listeners", "-L", str(port)) as tr:
        srv = start(ns, "server", port, 64, go, gap_ms)
        assert_eq("server", srv.stdout.readline().strip(), "ready")
        cli = start(ns, "clients", port, n, 10, go)
        sout = until_done(srv)
        cout = finish(cli)
        sout += finish(srv)
        tr.stop()
    os.unlink(go)
    accepts = [float(v) for v in re.findall(r"^@accept (\S+)$", sout, re.M)]
    assert_eq("accepts the server made", len(accepts), n)
    t0, t1 = stamp(cout, "connect")
    r = row_for(tr.out, port)
    for col in ("syns", "requests", "handshakes", "accepts"):
        assert_eq(col, r[col], str(n))
    for col in ("ovf_syn", "ovf_ack", "synq_drops", "cookies", "rtx"):
        assert_eq(col, r[col], "0")
    # every client was queued before the first accept: n - 1 left after it
    assert_eq("queue p50/p99/max after the accepts", queue(r["q_accept"]),
              [(n - 1) // 2, n - 1, n - 1])
    assert_eq("longest queue a SYN found", queue(r["q_syn"])[2], n - 1)
    mean, mx = (float(v) for v in r["accept_wait_ms"].split("/"))
    # the last one queued from before t1 until the last accept: at least
    # that, at most since the first connect() began
    assert t1 <= accepts[0], "an accept before every client was established"
    assert accepts[-1] - t1 - 1 <= mx <= accepts[-1] - t0 + 1, (mx, t0, t1, accepts)
    # the waits rise one gap per connection: their mean is well below the max
    assert mean < mx - (accepts[-1] - accepts[0]) / 4, (mean, mx)


METRICS_PORT = 19473


def scrape():
    url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def series(text, name, **labels):
    """The value of one series; labels must match exactly."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{name}\{{{re.escape(want)}\}} (\S+)$", text, re.M)
    return None if m is None else float(m.group(1))


@test("listeners: /metrics and JSON say what the table says, lport label bounded")
def listeners_metrics_json():
    port, other, backlog, n = 7732, 7733, 1, 6
    go = f"/tmp/tcpphase-listen-go-{os.getpid()}"
    with SingleNs() as ns, Tracer("--listeners", "--json", "-v", "-L", f"{port},{other}",
                                  "--metrics", f"127.0.0.1:{METRICS_PORT}") as tr:
        srv = start(ns, "server", port, backlog, go, -1)
        assert_eq("server", srv.stdout.readline().strip(), "ready")
        cli = start(ns, "clients", port, n, 1.5, go)
        finish(cli)
        k = {}

        def overflows_agree():
            # the kernel's counter read afresh each time: a final ACK or SYN
            # still in flight when the clients closed may count after them
            k.update(netstat(ns.ns))
            text = scrape()
            return sum(series(text, "tcpphase_listen_overflows_total", lport=port,
                              packet=pkt) or 0 for pkt in ("syn", "ack")) == k["ListenOverflows"]

        # the metrics follow the kernel's counters within a second or two (longer when busy)
        wait_for("the overflows in /metrics to equal the kernel's ListenOverflows",
                 overflows_agree)
        text = scrape()
        finish(srv)
        tr.stop()
    os.unlink(go)
    objs = [json.loads(line) for line in tr.out.splitlines() if line.startswith("{")]
    lst = [o for o in objs if o.get("type") == "listener" and o["lport"] == port]
    assert_eq("JSON listener objects for the port", len(lst), 1)
    o = lst[0]
    assert_eq("JSON overflows", o["overflows_syn"] + o["overflows_ack"], k["ListenOverflows"])
    assert_eq("JSON backlog", o["backlog"], backlog)
    assert_eq("JSON queue max at SYN", o["queue_at_syn"]["max"], backlog + 1)
    assert_eq("JSON owner", o["pid"], srv.pid)
    for name, key in (("syns", "syns"), ("requests", "requests"),
                      ("handshakes", "handshakes")):
        assert_eq(f"tcpphase_listen_{name}_total", series(text, f"tcpphase_listen_{name}_total",
                                                          lport=port), float(o[key]))
    assert_eq("backlog gauge", series(text, "tcpphase_listen_backlog", lport=port), 1.0)
    assert_eq("queue histogram count",
              series(text, "tcpphase_listen_queue_length_count", lport=port, at="syn"),
              float(o["queue_at_syn"]["count"]))
    assert_eq("queue lengths <= 1 at SYN",
              series(text, "tcpphase_listen_queue_length_bucket", lport=port, at="syn", le=1),
              2.0)
    # a port nobody listens on has no series; no other lport value appears
    listen = "\n".join(line for line in text.splitlines()
                       if line.startswith("tcpphase_listen_"))
    assert_eq("lport values", sorted(set(re.findall(r'lport="([^"]*)"', listen))), [str(port)])


def nft(ns, script):
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script, text=True,
                   check=True, capture_output=True)


def synacks_sent(ns):
    """The packets nft's counter saw (the server's SYN-ACKs)."""
    out = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "counter", "inet", "lstn",
                          "synacks"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"packets (\d+)", out).group(1))


@test("listeners: SYN-ACK retransmits equal the SYN-ACKs the server sent beyond the first")
def listeners_synack_rtx():
    port = 7734
    go = f"/tmp/tcpphase-listen-go-{os.getpid()}"
    with SingleNs() as ns, Tracer("--listeners", "-L", str(port)) as tr:
        # count the server's SYN-ACKs where the client receives them (sent, for
        # the kernel); drop them there until one was sent again
        nft(ns.ns, f"""table inet lstn {{
            counter synacks {{
            }}
            chain in {{
                type filter hook input priority 0;
                tcp sport {port} tcp flags & (syn | ack) == syn | ack counter name synacks
                tcp sport {port} tcp flags & (syn | ack) == syn | ack drop comment "hold"
            }}
        }}""")
        srv = start(ns, "server", port, 16, go, 0)
        assert_eq("server", srv.stdout.readline().strip(), "ready")
        cli = start(ns, "clients", port, 1, 20, go)
        wait_for("a SYN-ACK sent again", lambda: synacks_sent(ns.ns) >= 2, timeout=10)
        handle = re.search(r'comment "hold" # handle (\d+)', subprocess.run(
            ["ip", "netns", "exec", ns.ns, "nft", "-a", "list", "chain", "inet", "lstn", "in"],
            capture_output=True, text=True, check=True).stdout).group(1)
        nft(ns.ns, f"delete rule inet lstn in handle {handle}\n")
        sout = until_done(srv)
        cout = finish(cli)
        sout += finish(srv)
        sent = synacks_sent(ns.ns)
        tr.stop()
    os.unlink(go)
    assert "established 1" in cout, cout
    r = row_for(tr.out, port)
    assert_eq("requests", r["requests"], "1")
    assert_eq("SYN-ACK retransmits: SYN-ACKs sent beyond the first", int(r["rtx"]), sent - 1)
    assert_eq("handshakes", r["handshakes"], "1")
