"""Resets: who sent or received one and the kernel's reason, on real BPF.

Each connection runs in a namespace of its own (rstpeer.py). The reason
tcpphase reports is checked against the kernel's own view of the same
reset: the tcp:tcp_send_reset / tcp:tcp_receive_reset lines that a tracefs
instance of the test's own records, matched by the connection's ports;
never against a name guessed from the enum. Both ways of reading the
kernel (aggregated, the default, and --no-aggregate) are checked.
"""

import os
import re
import subprocess
import sys
import urllib.request

from harness import ROOT, Skip, Tracer, assert_eq, netns_inode, test
from netlab import SingleNs, wait_for

RSTPEER = os.path.join(ROOT, "tests", "integration", "rstpeer.py")
TRACEFS = "/sys/kernel/tracing"


class KernelResets:
    """A tracefs instance with the two reset tracepoints on: the kernel's view."""

    EVENTS = ("tcp_send_reset", "tcp_receive_reset")

    def __enter__(self):
        if not os.path.isdir(os.path.join(TRACEFS, "instances")):
            subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], check=False)
        self.dir = os.path.join(TRACEFS, "instances", f"tpt-rst-{os.getpid()}")
        try:
            os.mkdir(self.dir)
        except OSError as e:
            raise Skip(f"no tracefs instance: {e}") from e
        for ev in self.EVENTS:
            path = os.path.join(self.dir, "events", "tcp", ev, "enable")
            if not os.path.exists(path):
                self.__exit__()
                raise Skip(f"no tcp:{ev} tracepoint")
            with open(path, "w") as f:
                f.write("1")
        return self

    def __exit__(self, *exc):
        for ev in self.EVENTS:
            try:
                with open(os.path.join(self.dir, "events", "tcp", ev, "enable"), "w") as f:
                    f.write("0")
            except OSError:
                pass
        os.rmdir(self.dir)

    def lines(self, event):
        with open(os.path.join(self.dir, "trace")) as f:
            return [ln for ln in f if f" {event}: " in ln]

    def sent(self, lport, rport):
        """reason= of the resets sent from :lport to :rport (src is ours)."""
        pat = re.compile(rf"src=\S+:{lport} dest=\S+:{rport} .*reason=(\w+)")
        return [m.group(1) for ln in self.lines("tcp_send_reset") if (m := pat.search(ln))]

    def received(self, lport, rport):
        pat = re.compile(rf"sport={lport} dport={rport} ")
        return [ln for ln in self.lines("tcp_receive_reset") if pat.search(ln)]


def rstpeer(ns, mode, port):
    """Run rstpeer.py in ns; the client's port."""
    p = ns.run(ns.ns, [sys.executable, RSTPEER, mode, str(port)], stdout=subprocess.PIPE,
               stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    if p.returncode:
        raise AssertionError(f"rstpeer {mode} failed: {err.strip()}")
    return int(out.split()[1])


def endpoint(tr, ns, lport, rport):
    rows = [r for r in tr.rows() if r["netns"] == netns_inode(ns.ns) and
            r["lport"] == str(lport) and r["rport"] == str(rport)]
    assert len(rows) == 1, f"{tr.args[1:]}: {len(rows)} rows for :{lport} -> :{rport}: {rows}"
    return rows[0]


def check_reset(mode, port, closer_is_server):
    """One connection reset by one side: that side's row says sent with the
    kernel's reason, the other's received (no reason), in both modes."""
    with SingleNs() as ns, KernelResets() as kr, Tracer("--csv") as agg, \
            Tracer("--csv", "--no-aggregate") as live:
        cport = rstpeer(ns, mode, port)
        ns.settle(port)
        wait_for("the kernel's reset lines",
                 lambda: kr.sent(port, cport) or kr.sent(cport, port))
        agg.stop()
        live.stop()
        sender, receiver = ((port, cport), (cport, port)) if closer_is_server else \
            ((cport, port), (port, cport))
        kernel = kr.sent(*sender)
        assert_eq("resets the kernel sent", len(kernel), 1)
        assert kr.received(*receiver), "the kernel saw no reset received"
        for tr in (agg, live):
            s, r = endpoint(tr, ns, *sender), endpoint(tr, ns, *receiver)
            assert_eq("sender rst", s["rst"], "sent")
            assert_eq("sender rst_reason (the kernel's)", s["rst_reason"], kernel[0])
            assert_eq("receiver rst", r["rst"], "received")
            assert_eq("receiver rst_reason", r["rst_reason"], "")
            assert_eq("receiver closer", r["closer"], "reset")
    return kernel[0]


@test("resets: close() with unread data: TCP_ABORT_ON_CLOSE sent, the peer's received")
def resets_unread():
    assert_eq("reason", check_reset("unread", 7301, True), "TCP_ABORT_ON_CLOSE")


@test("resets: close() with SO_LINGER 0: the kernel's reason sent, the peer's received")
def resets_linger0():
    # this kernel says TCP_STATE there (tcp_disconnect), as its trace shows
    check_reset("linger0", 7302, False)


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text, series):
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


@test("resets: connect() to a closed port: NO_SOCKET counted (no socket of ours), refused")
def resets_closed_port():
    port, mport = 7303, 19483
    series = 'tcpphase_resets_total{direction="sent",reason="NO_SOCKET"}'
    with SingleNs() as ns, KernelResets() as kr, Tracer("--csv") as rec, \
            Tracer("--summary", "-L", str(port), "--metrics",
                   f"127.0.0.1:{mport}") as summ:
        cport = rstpeer(ns, "closed", port)
        wait_for("the kernel's reset line", lambda: kr.lines("tcp_send_reset"))
        wait_for("the reset in the metrics", lambda: metric(scrape(mport), series) == 1)
        rec.stop()
        summ.stop()
        kernel = [re.search(r"reason=(\w+)", ln).group(1)
                  for ln in kr.lines("tcp_send_reset") if f":{port} dest=" in ln]
        assert_eq("the kernel's reasons", kernel, ["NO_SOCKET"])
        rows = [r for r in rec.rows() if r["netns"] == netns_inode(ns.ns) and
                r["rport"] == str(port)]
        assert_eq("client rows", len(rows), 1)
        assert_eq("result", rows[0]["result"], "refused")
        assert_eq("rst", rows[0]["rst"], "received")
        assert cport >= 0
        # -L: only the closed port's side is traced, not the client's port
        text = summ.out
        assert re.search(r"^resets +sent 1  NO_SOCKET 1$", text, re.M), text
        assert re.search(r"^ +received 0$", text, re.M), text
        assert re.search(r"not ours: no socket 1 ", text, re.M), text
