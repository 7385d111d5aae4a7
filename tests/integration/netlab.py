"""netlab - throwaway network namespaces for tcpphase's integration tests.

Lab: two namespaces A and B joined by tests/helpers/delayline, a TUN pair
that delays every packet by delay_ms each way (so an RTT is 2 * delay_ms):

    A tp0 10.231.0.1 / fd77::1  <-- delayline -->  B tp0 10.231.0.2 / fd77::2

The delay line logs every packet it forwards with its read and write
times (Lab.packets()): the ground truth that timing tests compare with.

SingleNs: one namespace with only lo up, for loopback tests.

Both are context managers; on exit they kill what they started (delayline
and every process from run()) and delete their namespaces, even on errors.
Needs root.
"""

import collections
import itertools
import os
import selectors
import subprocess
import tempfile
import time

_seq = itertools.count()


def _ip(*args):
    res = subprocess.run(["ip", *args], capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {res.stderr.strip()}")


def _stop(proc, timeout=5):
    """SIGTERM, then SIGKILL, a Popen; returns its (stdout, stderr)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


# One forwarded packet; times in ms of CLOCK_MONOTONIC (bpf_ktime_get_ns's
# clock): read is when it left its sender, wr0..wr1 its delivery.
Packet = collections.namedtuple("Packet", "dir read wr0 wr1 proto sport dport flags plen")


def sockets(ns, port):
    """The TCP sockets of ns on port (either end), as (state, local, peer)."""
    res = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tanH",
                          f"( sport = :{port} or dport = :{port} )"],
                         capture_output=True, text=True, check=True)
    return [tuple(line.split()[i] for i in (0, 3, 4)) for line in res.stdout.splitlines()]


def wait_for(what, cond, timeout=20.0):
    """Poll cond() until it is true; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class _Netns:
    """Namespace bookkeeping and the run/sh/sysctl helpers."""

    def __init__(self):
        self._namespaces = []
        self._procs = []

    def _add_ns(self, prefix):
        name = f"{prefix}-{os.getpid()}-{next(_seq)}"
        _ip("netns", "add", name)
        self._namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")
        return name

    def run(self, ns, argv, **popen_kwargs):
        """Start argv inside ns; killed on exit if still running."""
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], **popen_kwargs)
        self._procs.append(proc)
        return proc

    def sh(self, ns, cmd, **run_kwargs):
        """Run a shell command inside ns; raises CalledProcessError on failure."""
        run_kwargs.setdefault("capture_output", True)
        run_kwargs.setdefault("text", True)
        return subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", cmd],
                              check=True, **run_kwargs)

    def sysctl(self, ns, key, value):
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}"],
                       check=True, capture_output=True, text=True)

    def settle_ns(self, ns, port, keep=("TIME-WAIT", "LISTEN"), timeout=20.0):
        """Wait until ns has no socket on port in a state other than keep."""
        wait_for(f"the sockets on port {port} to settle",
                 lambda: all(s[0] in keep for s in sockets(ns, port)), timeout)

    def close(self):
        for proc in self._procs:
            _stop(proc)
        self._procs = []
        for name in self._namespaces:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self._namespaces = []

    def __enter__(self):
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class SingleNs(_Netns):
    """One namespace (self.ns) with lo up."""

    def __init__(self):
        super().__init__()
        self.ns = None

    def _setup(self):
        self.ns = self._add_ns("tpS")

    def settle(self, port, keep=("TIME-WAIT", "LISTEN"), timeout=20.0):
        self.settle_ns(self.ns, port, keep, timeout)


class Lab(_Netns):
    """Namespaces ns_a and ns_b linked by a delayline of delay_ms each way."""

    addr_a, addr_b = "10.231.0.1", "10.231.0.2"
    addr6_a, addr6_b = "fd77::1", "fd77::2"
    tun = "tp0"

    def __init__(self, delay_ms=25, delayline_bin=None, ready_timeout=5):
        super().__init__()
        self.delay_ms = delay_ms
        self.delayline_bin = delayline_bin or os.environ.get("DELAYLINE", "/tmp/delayline")
        self.ready_timeout = ready_timeout
        self.ns_a = self.ns_b = None
        self.delayline = None
        self.delayline_log = ""     # delayline's stderr (its counters), after exit
        self.packet_log = None

    def _setup(self):
        self.ns_a = self._add_ns("tpA")
        self.ns_b = self._add_ns("tpB")
        self._start_delayline()
        for ns, mine, peer, mine6, peer6 in (
                (self.ns_a, self.addr_a, self.addr_b, self.addr6_a, self.addr6_b),
                (self.ns_b, self.addr_b, self.addr_a, self.addr6_b, self.addr6_a)):
            _ip("-n", ns, "link", "set", self.tun, "up")
            _ip("-n", ns, "addr", "add", mine, "peer", peer, "dev", self.tun)
            _ip("-n", ns, "-6", "addr", "add", f"{mine6}/128", "dev", self.tun, "nodad")
            _ip("-n", ns, "-6", "route", "add", f"{peer6}/128", "dev", self.tun)

    def _start_delayline(self):
        fd, self.packet_log = tempfile.mkstemp(prefix="tcpphase-wire-", suffix=".log")
        os.close(fd)
        argv = [self.delayline_bin, "-a", self.ns_a, "-b", self.ns_b,
                "-d", str(self.delay_ms), "-n", self.tun, "-l", self.packet_log]
        self.delayline = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)
        line = None
        with selectors.DefaultSelector() as sel:
            sel.register(self.delayline.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + self.ready_timeout
            left = self.ready_timeout
            while left > 0 and sel.select(left) == []:
                left = deadline - time.monotonic()
            if left > 0:
                line = self.delayline.stdout.readline()
        if line is None or line.strip() != "ready":
            _, err = _stop(self.delayline)
            rc, self.delayline = self.delayline.returncode, None
            why = err.strip() or (f"no 'ready' within {self.ready_timeout}s" if line is None
                                  else f"exited with status {rc}")
            raise RuntimeError(f"delayline failed: {why}")

    def packets(self):
        """Every packet forwarded so far (also after close), in write order."""
        pkts = []
        with open(self.packet_log) as f:
            for line in f:
                d, rd, w0, w1, proto, sp, dp, flags, plen = line.split()
                pkts.append(Packet(d, int(rd) / 1e6, int(w0) / 1e6, int(w1) / 1e6, int(proto),
                                   int(sp), int(dp), flags, int(plen)))
        return pkts

    def settle(self, port, keep=("TIME-WAIT", "LISTEN"), timeout=20.0):
        """Wait until neither namespace has a socket on port in another state."""
        for ns in (self.ns_a, self.ns_b):
            self.settle_ns(ns, port, keep, timeout)

    def close(self):
        if self.delayline is not None:
            _, self.delayline_log = _stop(self.delayline)
            self.delayline = None
        super().close()

    def __del__(self):
        if self.packet_log:
            try:
                os.unlink(self.packet_log)
            except OSError:
                pass
