"""The cgroup and workload of every endpoint, in real cgroups made here.

Under the cgroup2 mount (its first cgroup2 line in /proc/self/mountinfo) the
test makes tcpphase-test-PID/ with a server cgroup shaped like a systemd
service and a client cgroup shaped like a Kubernetes containerd container;
the peers join theirs (a shell writes its pid to cgroup.procs, then execs
the peer) before they make a socket. Over loopback the passive side's
transitions run in softirq while the client's task is on the CPU: the rows
must still name the server's cgroup. Everything made is removed afterwards.
"""

import os
import subprocess
import sys
import uuid

from harness import (PEER, TCPPHASE, Skip, Tracer, assert_eq, cgroup2_root, check_loss_arithmetic,
                     loss_line, netns_inode, test)
from netlab import SingleNs, sockets, wait_for

HEX = "0123456789abcdef" * 4
POD = "1b2c3d4e-0000-4111-8222-333344445555"
SERVER_CG = "system.slice/tpcg-web.service"
CLIENT_CG = ("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
             f"{POD.replace('-', '_')}.slice/cri-containerd-{HEX}.scope")
CLIENT_WORKLOAD = f"pod:{POD}/containerd:{HEX[:12]}"


class Cgroups:
    """tcpphase-test-PID/ under the cgroup2 root, with leaves made on demand."""

    def __init__(self):
        self.root = cgroup2_root()
        if not self.root:
            raise Skip("no cgroup2 file system mounted")
        self.top = f"tcpphase-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.made = []

    def path(self, rel):
        """The cgroup's path as tcpphase shows it (below the root)."""
        return f"/{self.top}/{rel}"

    def fs(self, rel=""):
        return os.path.join(self.root, self.top, rel) if rel else os.path.join(self.root, self.top)

    def make(self, rel):
        parts = [self.top, *rel.split("/")]
        for i in range(1, len(parts) + 1):
            d = os.path.join(self.root, *parts[:i])
            if not os.path.isdir(d):
                os.mkdir(d)
                self.made.append(d)
        return os.path.join(self.root, *parts)

    def remove(self, rel):
        d = self.fs(rel)
        os.rmdir(d)
        self.made.remove(d)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for d in reversed(self.made):
            try:
                os.rmdir(d)
            except OSError:
                pass
        return False


def start_peer(lab, cgdir, role, port, *opts):
    """peer.py in lab's namespace, joined to the cgroup at cgdir first (before
    ip netns exec, which mounts a sysfs of the namespace over /sys)."""
    argv = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgdir,
            "ip", "netns", "exec", lab.ns,
            sys.executable, PEER, role, "127.0.0.1", str(port), *map(str, opts)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lab._procs.append(p)  # stopped with the lab
    if role == "server" and p.stdout.readline().strip() != "ready":
        raise AssertionError(f"server did not start: {p.stderr.read()}")
    return p


def done(p, timeout=60):
    out, err = p.communicate(timeout=timeout)
    if p.returncode:
        raise AssertionError(f"peer failed ({p.returncode}): {err.strip()}")
    return out


def exchange(lab, cg, port, n=2):
    """n connections, client closing first (its end goes to TIME_WAIT)."""
    srv = start_peer(lab, cg.make(SERVER_CG), "server", port, "--count", n, "--then", "eof")
    done(start_peer(lab, cg.make(CLIENT_CG), "client", port, "--count", n))
    done(srv)
    lab.settle(port)


def check_sides(rows, cg, port, n):
    cli = [r for r in rows if r["rport"] == str(port)]
    srv = [r for r in rows if r["lport"] == str(port)]
    assert_eq("client rows", len(cli), n)
    assert_eq("server rows", len(srv), n)
    for r in cli:
        assert_eq("client cgroup", r["cgroup"], cg.path(CLIENT_CG))
        assert_eq("client workload", r["workload"], CLIENT_WORKLOAD)
        assert_eq("client role", r["role"], "active")
        assert_eq("client tw_end (TIME_WAIT, cut at exit)", r["tw_end"], "in_progress")
    for r in srv:
        assert_eq("server cgroup", r["cgroup"], cg.path(SERVER_CG))
        assert_eq("server workload", r["workload"], "tpcg-web.service")
        assert_eq("server role", r["role"], "passive")


@test("cgroups: both sides' rows name their cgroup and workload (softirq, TIME_WAIT)")
def cgroup_columns():
    port = 7611
    for mode in ([], ["--no-aggregate"]):
        with Cgroups() as cg, SingleNs() as lab:
            with Tracer("--csv", *mode) as tr:
                exchange(lab, cg, port)
                tr.stop()
            ns = netns_inode(lab.ns)
            check_sides([r for r in tr.rows() if r["netns"] == ns], cg, port, 2)


@test("cgroups: -e lines carry the socket's cgroup, the tw sock's included")
def cgroup_events():
    port = 7612
    with Cgroups() as cg, SingleNs() as lab:
        with Tracer("-e", "--csv") as tr:
            exchange(lab, cg, port, n=1)
            tr.stop()
        ns = netns_inode(lab.ns)
        rows = [r for r in tr.rows() if r["netns"] == ns]
        cli = [r for r in rows if r["rport"] == str(port)]
        srv = [r for r in rows if r["lport"] == str(port) and r["oldstate"] != "LISTEN"
               and r["newstate"] != "LISTEN"]
        assert cli and srv, rows
        assert any(r["newstate"] in ("TIME_WAIT", "CLOSE") for r in cli), cli
        for r in cli:
            assert_eq(f"client {r['oldstate']}->{r['newstate']} workload", r["workload"],
                      CLIENT_WORKLOAD)
        for r in srv:
            assert_eq(f"server {r['oldstate']}->{r['newstate']} cgroup", r["cgroup"],
                      cg.path(SERVER_CG))


@test("cgroups: --cgroup keeps one side only, and counts nothing of the other")
def cgroup_filter():
    port = 7613
    for how in ("fs", "below"):
        with Cgroups() as cg, SingleNs() as lab:
            cg.make(SERVER_CG)
            cg.make(CLIENT_CG)
            # the service's own directory, as a file system path; or its
            # parent slice as a path below the root: "or below it"
            arg = cg.fs(SERVER_CG) if how == "fs" else cg.path("system.slice")
            with Tracer("--csv", "--cgroup", arg) as tr:
                exchange(lab, cg, port)
                tr.stop()
            rows = tr.rows()
            assert_eq(f"{how}: rows", len(rows), 2)
            assert all(r["lport"] == str(port) and r["workload"] == "tpcg-web.service"
                       for r in rows), rows
            # the loss line counts what the table saw: the server ends' only
            # (2 connections: LISTEN, 2 x 4 transitions, the listener's close)
            loss = loss_line(tr.err)
            check_loss_arithmetic(loss)
            assert_eq(f"{how}: records", loss["records"], 2)
            assert_eq(f"{how}: partial records", loss["partial"],
                      sum(1 for r in rows if r["partial"] != "0"))


@test("cgroups: a bad --cgroup is one line and status 2")
def cgroup_bad_arg():
    for arg in ("/no/such/cgroup-tcpphase", "/proc"):
        r = subprocess.run([TCPPHASE, "--cgroup", arg, "-d", "1"], capture_output=True,
                           text=True, timeout=30)
        assert_eq(f"{arg}: status", r.returncode, 2)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "--cgroup" in lines[0], r.stderr


@test("cgroups: a cgroup removed while its sockets live keeps its path, or else its id")
def cgroup_removed():
    port = 7614
    with Cgroups() as cg, SingleNs() as lab:
        go = f"/tmp/tcpphase-cg-go-{os.getpid()}"
        kept, lost = "system.slice/kept.service", "system.slice/lost.service"
        hold = cg.make("hold")
        with Tracer("--csv") as tr:
            # kept: one connection closes (its path is resolved), one lives on
            srv = start_peer(lab, cg.make(kept), "server", port, "--count", 2, "--then", "eof")
            c1 = start_peer(lab, cg.make(CLIENT_CG), "client", port)
            done(c1)
            wait_for("the first row", lambda: f",{port}," in open(tr.outf.name).read())
            c2 = start_peer(lab, cg.fs(CLIENT_CG), "client", port, "--go", go)
            # lost: its only connection outlives the cgroup, never resolved before
            srv2 = start_peer(lab, cg.make(lost), "server", port + 1, "--then", "eof")
            c3 = start_peer(lab, cg.fs(CLIENT_CG), "client", port + 1, "--go", go)
            wait_for("both connections up",
                     lambda: all(len([s for s in sockets(lab.ns, p) if s[0] == "ESTAB"]) == 2
                                 for p in (port, port + 1)))
            lost_id = str(os.stat(cg.fs(lost)).st_ino)
            for rel, p in ((kept, srv), (lost, srv2)):
                with open(os.path.join(hold, "cgroup.procs"), "w") as f:
                    f.write(str(p.pid))
                # the peer is a child of ip netns exec: move what is left in it
                for pid in open(os.path.join(cg.fs(rel), "cgroup.procs")).read().split():
                    with open(os.path.join(hold, "cgroup.procs"), "w") as f:
                        f.write(pid)
                cg.remove(rel)
            open(go, "w").close()
            try:
                for p in (c2, c3, srv, srv2):
                    done(p)
            finally:
                os.unlink(go)
            lab.settle(port)
            lab.settle(port + 1)
            tr.stop()
        ns = netns_inode(lab.ns)
        rows = [r for r in tr.rows() if r["netns"] == ns]
        srv_rows = [r for r in rows if r["lport"] == str(port)]
        assert_eq("kept rows", len(srv_rows), 2)
        for r in srv_rows:
            assert_eq("kept cgroup", r["cgroup"], cg.path(kept))
            assert_eq("kept workload", r["workload"], "kept.service")
        lost_rows = [r for r in rows if r["lport"] == str(port + 1)]
        assert_eq("lost rows", len(lost_rows), 1)
        assert_eq("lost cgroup: its id", lost_rows[0]["cgroup"], lost_id)
        assert_eq("lost workload", lost_rows[0]["workload"], "")


@test("cgroups: --open rows carry the cgroup and workload as the end rows do")
def cgroup_open_rows():
    port = 7616
    with Cgroups() as cg, SingleNs() as lab:
        with Tracer("--csv", "--open") as tr:
            exchange(lab, cg, port)
            tr.stop()
        ns = netns_inode(lab.ns)
        rows = [r for r in tr.rows() if r["netns"] == ns]
        opens = [r for r in rows if r["row"] == "open"]
        cli = [r for r in opens if r["rport"] == str(port)]
        srv = [r for r in opens if r["lport"] == str(port)]
        assert_eq("client open rows", len(cli), 2)
        assert_eq("server open rows", len(srv), 2)
        for r in cli:
            assert_eq("client open cgroup", r["cgroup"], cg.path(CLIENT_CG))
            assert_eq("client open workload", r["workload"], CLIENT_WORKLOAD)
        for r in srv:
            assert_eq("server open cgroup", r["cgroup"], cg.path(SERVER_CG))
            assert_eq("server open workload", r["workload"], "tpcg-web.service")
        check_sides([r for r in rows if r["row"] == "end"], cg, port, 2)
