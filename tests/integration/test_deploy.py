"""Deployment: the systemd unit, and tcpphase confined as in a unit or a container.

The confined runs use what the unit grants (its AmbientCapabilities, read
from scripts/tcpphase.service): an unprivileged user, those capabilities
only (bounding set too), no new privileges, in a private mount namespace
where /boot is an empty tmpfs and /proc/config.gz cannot be read, as on a
host or in a container where no kernel config is to be found.
"""

import csv
import io
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

from harness import ROOT, TCPPHASE, Tracer, assert_eq, netns_inode, peer, test, wait_peer
from netlab import SingleNs

UNIT = os.path.join(ROOT, "scripts", "tcpphase.service")
NOBODY = 65534
# capability numbers (linux/capability.h), for reading /proc/PID/status
CAP_NUMBERS = {"CAP_SYSLOG": 34, "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_DAC_READ_SEARCH": 2,
               "CAP_SYS_PTRACE": 19, "CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21}


def unit_setting(key):
    """The value of key= in the unit (the last one wins, as in systemd)."""
    value = None
    with open(UNIT) as f:
        for line in f:
            m = re.match(rf"^{key}=(.*)$", line.strip())
            if m:
                value = m.group(1)
    if value is None:
        raise AssertionError(f"{UNIT} has no {key}=")
    return value


def unit_caps():
    caps = unit_setting("AmbientCapabilities").split()
    assert_eq("bounding set", unit_setting("CapabilityBoundingSet").split(), caps)
    return caps


def wait_for(what, cond, timeout=30.0):
    """Poll cond() until it is true; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def open_sockets(ns, port):
    """States of the TCP sockets of ns on port (either end)."""
    r = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tanH",
                        f"( sport = :{port} or dport = :{port} )"],
                       capture_output=True, text=True, check=True)
    return [line.split()[0] for line in r.stdout.splitlines()]


class Confined(Tracer):
    """tcpphase as the unit runs it, in a private mount namespace without kernel config."""

    def __init__(self, *args, caps):
        super().__init__(*args, ready_timeout=30)
        self.caps = caps
        self.tmp = tempfile.mkdtemp(prefix="tcpphase-deploy-")
        noconfig = os.path.join(self.tmp, "noconfig")
        open(noconfig, "w").close()
        os.chmod(noconfig, 0)  # root's, mode 000: unreadable without CAP_DAC_*
        capset = ",".join(["-all"] + ["+" + c[4:].lower() for c in caps])
        setpriv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                   f"--inh-caps={capset}", f"--ambient-caps={capset}",
                   f"--bounding-set={capset}", "--no-new-privs"]
        # what tcpphase finds in there, checked as the user it runs as
        check = "[ -z \"$(ls -A /boot)\" ] && ! head -c1 /proc/config.gz >/dev/null 2>&1"
        inner = " ".join(setpriv) + f" sh -c '{check} && exec \"$0\" \"$@\"' \"$0\" \"$@\""
        setup = ("set -e; mount --make-rprivate /; "
                 "if [ -d /boot ]; then mount -t tmpfs -o ro,size=16k,mode=755 none /boot; fi; "
                 f"if [ -e /proc/config.gz ]; then mount --bind {noconfig} /proc/config.gz; fi; "
                 f"exec {inner}")
        # unshare, sh, setpriv and sh exec each other: the pid stays tcpphase's
        self.args = ["unshare", "-m", "sh", "-c", setup, TCPPHASE, *args]

    def _wait_ready(self):
        deadline = time.time() + self.ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = open(self.errf.name).read().strip()
                raise AssertionError(f"confined tcpphase exited {self.proc.returncode}: {err}")
            if os.path.getsize(self.outf.name) > 0 or self.serving():
                return self
            time.sleep(0.05)
        raise AssertionError("confined tcpphase did not come up")

    def serving(self):
        return False

    def check_confinement(self):
        """The running tcpphase: nobody, exactly the unit's capabilities, its own mounts."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        assert_eq("comm", status["Name"], "tcpphase")
        assert_eq("uid", status["Uid"].split()[0], str(NOBODY))
        want = sum(1 << CAP_NUMBERS[c] for c in self.caps)
        for field in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
            assert_eq(field, int(status[field], 16), want)
        assert_eq("no_new_privs", status["NoNewPrivs"], "1")
        assert os.readlink(f"/proc/{self.proc.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


@test("deploy: systemd-analyze verify passes on scripts/tcpphase.service")
def unit_verifies():
    if not shutil.which("systemd-analyze"):
        raise AssertionError("systemd-analyze not installed (scripts/setup.sh installs systemd)")
    exec_start = unit_setting("ExecStart")
    assert exec_start.startswith("/usr/sbin/tcpphase --metrics 127.0.0.1:"), exec_start
    with tempfile.TemporaryDirectory(prefix="tcpphase-unit-") as d:
        # verify checks that ExecStart's binary exists: point it at the one under test
        path = os.path.join(d, "tcpphase.service")
        with open(UNIT) as f, open(path, "w") as out:
            out.write(f.read().replace("/usr/sbin/tcpphase", os.path.abspath(TCPPHASE)))
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                           timeout=60)
    assert_eq("verify status", r.returncode, 0)
    # unknown keys or values are only warned about: none may be
    assert_eq("verify output", (r.stdout + r.stderr).strip(), "")


@test("deploy: confined to the unit's capabilities, no kernel config: correct rows")
def confined_rows():
    port = 7471
    with SingleNs() as lab, Confined("--csv", caps=unit_caps()) as tr:
        tr.check_confinement()
        ino = netns_inode(lab.ns)
        # 1: the client closes first (and sits in TIME_WAIT); 2: the server does
        srv = peer(lab, lab.ns, "server", "127.0.0.1", port, "--then", "eof")
        wait_peer(peer(lab, lab.ns, "client", "127.0.0.1", port))
        wait_peer(srv)
        srv = peer(lab, lab.ns, "server", "127.0.0.1", port + 1)
        wait_peer(peer(lab, lab.ns, "client", "127.0.0.1", port + 1, "--then", "eof"))
        wait_peer(srv)
        # every socket closed or in TIME_WAIT: all the transitions are in the kernel's rings
        wait_for("the sockets to close",
                 lambda: all(s == "TIME-WAIT" for p in (port, port + 1)
                             for s in open_sockets(lab.ns, p)))
        tr.stop()
    assert "warning" not in tr.err, tr.err
    rows = [r for r in csv.DictReader(io.StringIO(tr.out)) if r["netns"] == ino]
    got = sorted((r["role"], int(r["lport"] if r["role"] == "passive" else r["rport"]),
                  r["closer"]) for r in rows)
    assert_eq("rows (role, server port, closer)", got,
              [("active", port, "local"), ("active", port + 1, "remote"),
               ("passive", port, "remote"), ("passive", port + 1, "local")])
    for r in rows:
        what = f"{r['role']} {r['lport']}->{r['rport']}"
        assert_eq(f"{what} result", r["result"], "ok")
        assert_eq(f"{what} partial", r["partial"], "0")
        # passive: timed from the request sock's timer, which needs CAP_SYSLOG
        assert r["handshake_us"] != "" and int(r["handshake_us"]) < 5_000_000, r
        if r["closer"] == "local":  # its TIME_WAIT is followed (the tw timer hook)
            assert_eq(f"{what} tw_end", r["tw_end"], "in_progress")
            assert r["time_wait_us"] != "", r
        else:
            assert_eq(f"{what} tw_end", r["tw_end"], "none")
        assert r["comm"].startswith("python"), r


@test("deploy: --metrics confined to the unit's capabilities, no kernel config")
def confined_metrics():
    mport, port, n = 19479, 7473, 3

    def scrape():
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5) as r:
            assert_eq("status", r.status, 200)
            return r.read().decode()

    def count(text):
        m = re.search(r'^tcpphase_handshake_seconds_count\{role="active"\} (\S+)$', text, re.M)
        return float(m.group(1)) if m else None

    class Serving(Confined):
        def serving(self):
            try:
                scrape()
                return True
            except OSError:
                return False

    # -D: only the clients' endpoints, whatever else runs on the host; the
    # server closes first, so they are complete (and counted) without a TIME_WAIT
    with SingleNs() as lab, \
            Serving("--metrics", f"127.0.0.1:{mport}", "-D", str(port),
                    caps=unit_caps()) as tr:
        tr.check_confinement()
        for _ in range(n):
            srv = peer(lab, lab.ns, "server", "127.0.0.1", port)
            wait_peer(peer(lab, lab.ns, "client", "127.0.0.1", port, "--then", "eof"))
            wait_peer(srv)
        text = ""

        def counted():
            nonlocal text
            text = scrape()
            return count(text) == n

        wait_for(f"{n} active handshakes in /metrics", counted)
        tr.stop()
    assert "# TYPE tcpphase_handshake_seconds histogram" in text, text[:500]
    assert re.search(r"^tcpphase_kernel_tw_total \d+", text, re.M), text[:500]
    # the one warning expected: other namespaces need CAP_SYS_ADMIN to enter
    # for the state gauges' count at start
    rest = [line for line in tr.err.splitlines() if "warning" in line
            and "could not be entered (CAP_SYS_ADMIN)" not in line]
    assert not rest, tr.err
