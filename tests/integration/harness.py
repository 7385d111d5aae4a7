"""harness - run the real tcpphase under test and read what it reports.

Tracer starts ./tcpphase with the given arguments, waits until its programs
are attached (it prints its header only then), and on stop() sends SIGINT
and parses its CSV. Tests are plain functions registered with @test; they
raise AssertionError to fail and Skip where BPF cannot load at all.
"""

import csv
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TCPPHASE = os.environ.get("TCPPHASE", os.path.join(ROOT, "tcpphase"))
PEER = os.path.join(ROOT, "tests", "integration", "peer.py")
DELAYLINE = os.path.join(ROOT, ".output", "delayline")
os.environ.setdefault("DELAYLINE", DELAYLINE)

TESTS = []


class Skip(Exception):
    pass


def test(name, slow=False):
    def register(fn):
        TESTS.append((name, fn, slow))
        return fn
    return register


class Tracer:
    """tcpphase running in the background; stop() returns (stdout, stderr)."""

    def __init__(self, *args, ready_timeout=20, prefix=()):
        self.args = [*prefix, TCPPHASE, *args]
        self.ready_timeout = ready_timeout
        self.proc = None
        self.out = self.err = ""
        self.stop_ms = self.stopped_ms = None

    def __enter__(self):
        # two tracers may run at once: a file pair each
        self.outf = tempfile.NamedTemporaryFile("w+", prefix="tcpphase-test-", suffix=".out",
                                                delete=False)
        self.errf = tempfile.NamedTemporaryFile("w+", prefix="tcpphase-test-", suffix=".err",
                                                delete=False)
        self.proc = subprocess.Popen(self.args, stdout=self.outf, stderr=self.errf)
        try:
            return self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)  # never leave a tracer attached
            raise

    def _wait_ready(self):
        deadline = time.time() + self.ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = open(self.errf.name).read()
                if "cannot load BPF" in err or "permission denied" in err:
                    raise Skip(f"BPF cannot load: {err.strip()}")
                raise AssertionError(f"tcpphase exited {self.proc.returncode}: {err.strip()}")
            # -v says so on stderr: for outputs that print nothing at first
            if os.path.getsize(self.outf.name) > 0 or (
                    "-v" in self.args and "tracing, Ctrl-C" in open(self.errf.name).read()):
                time.sleep(0.1)
                return self
            time.sleep(0.05)
        raise AssertionError("tcpphase did not come up")

    def stop(self, sig=signal.SIGINT, timeout=30):
        """Stop it; stop_ms is when the signal went, stopped_ms when it had
        exited (CLOCK_MONOTONIC ms)."""
        if self.proc and self.proc.poll() is None:
            self.stop_ms = time.monotonic_ns() / 1e6
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("tcpphase did not stop on signal")
            self.stopped_ms = time.monotonic_ns() / 1e6
        # an unfiltered tracer writes the whole host's processes, whose comm
        # may be any bytes (a kernel task name is not UTF-8 by contract)
        with open(self.outf.name, errors="backslashreplace") as f:
            self.out = f.read()
        with open(self.errf.name, errors="backslashreplace") as f:
            self.err = f.read()
        return self.out, self.err

    def __exit__(self, *exc):
        self.stop()
        for f in (self.outf, self.errf):
            f.close()
            os.unlink(f.name)
        return False

    def rows(self):
        return list(csv.DictReader(io.StringIO(self.out)))


# Run a command where no kernel config file can be read: a private mount
# namespace with an empty /boot and /proc/config.gz covered by /dev/null.
NO_KCONFIG = ("unshare", "-m", "--propagation", "private", "sh", "-c",
              "mount -t tmpfs none /boot && "
              "{ [ ! -e /proc/config.gz ] || mount --bind /dev/null /proc/config.gz; } && "
              'exec "$@"', "sh")


def kernel_hz():
    """CONFIG_HZ from the kernel's config where it is readable, else None."""
    import gzip
    import platform
    for path, opener in (("/proc/config.gz", gzip.open),
                         (f"/boot/config-{platform.release()}", open)):
        try:
            with opener(path, "rt") as f:
                for line in f:
                    if line.startswith("CONFIG_HZ="):
                        return int(line.split("=")[1])
        except OSError:
            pass
    return None


def cgroup2_root():
    """Where the cgroup2 file system is mounted (its first line in
    /proc/self/mountinfo), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split()[0] == "cgroup2":
                return pre.split()[4].replace("\\040", " ")
    return None


class OwnCgroup:
    """This process, and all it starts from then on, in a cgroup of its own:
    tracer_args() (--cgroup PATH) keeps the sockets of everything else on the
    host out of a tracer's figures (its ports may be another workload's too:
    an ephemeral range can cover any port). Without cgroup2, no isolation
    and no arguments. On exit the process goes back where it was."""

    def __init__(self):
        self.path = self.back = None

    def __enter__(self):
        root = cgroup2_root()
        if not root:
            return self
        with open("/proc/self/cgroup") as f:
            here = [ln.split(":", 2)[2].strip() for ln in f if ln.startswith("0::")]
        self.back = os.path.join(root, here[0].lstrip("/")) if here else root
        path = os.path.join(root, f"tcpphase-run-{os.getpid()}-{time.monotonic_ns()}")
        os.mkdir(path)
        self.path = path
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        return self

    def tracer_args(self):
        return ("--cgroup", self.path) if self.path else ()

    def __exit__(self, *exc):
        if not self.path:
            return False
        with open(os.path.join(self.back, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        deadline = time.monotonic() + 5  # its last processes may still be exiting
        while True:
            try:
                os.rmdir(self.path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    print(f"warning: cannot remove {self.path}", file=sys.stderr)
                    break
                time.sleep(0.05)
        return False


def run_port(n):
    """Port n of this run (0..99): tcpphase traces every namespace on the
    host, so a fixed -L port would also count another run of the suite at
    the same time (parallel CI jobs, worktrees). 20000-29999, below the
    ephemeral range and away from the suite's fixed ports; two runs share
    them only when their pids agree modulo 100."""
    return 20000 + (os.getpid() % 100) * 100 + n


def netns_inode(ns):
    return str(os.stat(f"/var/run/netns/{ns}").st_ino)


def first_line(p):
    """The next line of p's stdout, read a byte at a time: readline() may
    buffer the lines after it (a forked server's "child=" line), which
    communicate() then never sees, as it reads the pipe itself."""
    line = bytearray()
    while not line.endswith(b"\n"):
        c = os.read(p.stdout.fileno(), 1)
        if not c:
            break
        line += c
    return line.decode()


def peer(lab, ns, role, host, port, *opts):
    """Start peer.py in ns; for a server, wait until it listens."""
    p = lab.run(ns, [sys.executable, PEER, role, host, str(port), *map(str, opts)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if role == "server":
        line = first_line(p)
        if line.strip() != "ready":
            raise AssertionError(f"server did not start: {p.stderr.read()}")
    return p


def wait_peer(p, timeout=90):
    out, err = p.communicate(timeout=timeout)
    if p.returncode:
        raise AssertionError(f"peer failed ({p.returncode}): {err.strip()}")
    return out


def ms(row, col):
    v = row[col]
    return None if v == "" else int(v) / 1000.0


def assert_between(what, value, lo, hi):
    if value is None or not (lo <= value <= hi):
        raise AssertionError(f"{what} = {value}, expected {lo}..{hi}")


def assert_eq(what, got, want):
    if got != want:
        raise AssertionError(f"{what} = {got!r}, expected {want!r}")


def loss_line(err):
    """tcpphase's final loss line, as numbers."""
    m = re.search(r"^tcpphase: (\d+) events, (\d+) records \((\d+) partial\); lost (\d+) "
                  r"\(ring buffer full (\d+), recursion (\d+) of (\d+) misses, (\d+) rescued; "
                  r"unseen (\d+); table full (\d+)\); missed transitions (\d+)$", err, re.M)
    assert m, f"no loss line in: {err}"
    keys = ("events", "records", "partial", "lost", "ringbuf", "recursion", "misses", "rescued",
            "unseen", "table_full", "missed")
    return dict(zip(keys, map(int, m.groups())))


def check_loss_arithmetic(loss):
    """The loss line adds up as README "Losses are never silent" says."""
    assert_eq("lost = ring buffer full + recursion + unseen + table full", loss["lost"],
              loss["ringbuf"] + loss["recursion"] + loss["unseen"] + loss["table_full"])
    assert_eq("recursion = misses not rescued", loss["recursion"],
              max(0, loss["misses"] - loss["rescued"]))
    assert_eq("unseen = missed transitions beyond the recursion losses", loss["unseen"],
              max(0, loss["missed"] - loss["recursion"]))
