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
import re
import subprocess
import sys
import urllib.request
import uuid

from harness import (PEER, TCPPHASE, Skip, Tracer, assert_eq, cgroup2_root, check_loss_arithmetic,
                     first_line, loss_line, netns_inode, test)
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
    if role == "server" and first_line(p).strip() != "ready":
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


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert_eq("metrics status", r.status, 200)
        return r.read().decode()


def series_sum(text, prefix):
    """The sum of the series of text whose line starts with prefix."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(prefix))


def group(out, by, label):
    """A --by group of a text summary: (connections, {phase: count})."""
    m = re.search(rf"^{by} {re.escape(label)}: (\d+) connections\n((?:  .*\n)*)", out, re.M)
    assert m, f"no {by} group {label} in:\n{out}"
    phases = {}
    for line in m.group(2).splitlines():
        name, count = re.match(r"^  (.+?)\s+(\d+)\s", line).groups()
        phases[name] = int(count)
    return int(m.group(1)), phases


class Workloads:
    """This run's service and container: names of their own, so that a test
    running beside this one elsewhere on the host never shares a group."""

    def __init__(self, cg):
        tag = uuid.uuid4().hex[:8]
        hexid = uuid.uuid4().hex + uuid.uuid4().hex
        pod = str(uuid.uuid4())
        self.svc = f"tpcg-leak-{tag}.service"
        self.svc_cg = f"system.slice/{self.svc}"
        self.ctr_cg = ("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                       f"{pod.replace('-', '_')}.slice/cri-containerd-{hexid}.scope")
        self.ctr = f"pod:{pod}/containerd:{hexid[:12]}"
        self.cg = cg


def leak_close_wait(lab, w, port, n, refused):
    """Refused connects from the container, then n connections from it to n
    servers of the service, each left in CLOSE_WAIT (the server read the EOF
    and does not close) until all are, then released. The refused ones come
    first: the container is the busier workload from its first endpoint on."""
    go = f"/tmp/tcpphase-cg-leak-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    cg = w.cg
    try:
        for _ in range(refused):
            out = done(start_peer(lab, cg.make(w.ctr_cg), "client", port + n))
            assert "connect_errno=111" in out, out
        srvs = [start_peer(lab, cg.make(w.svc_cg), "server", port + i, "--then", "eof",
                           "--go", go) for i in range(n)]
        for i in range(n):
            done(start_peer(lab, cg.make(w.ctr_cg), "client", port + i))
        wait_for(f"{n} servers in CLOSE_WAIT",
                 lambda: sum(s[0] == "CLOSE-WAIT" for i in range(n)
                             for s in sockets(lab.ns, port + i)) == n)
        open(go, "w").close()
        for s in srvs:
            done(s)
    finally:
        if os.path.exists(go):
            os.unlink(go)
    for i in range(n):
        lab.settle(port + i)


@test("cgroups: --summary --by workload/cgroup and --metrics-by workload match the CSV rows")
def cgroup_summary_metrics():
    port, n, refused = 7620, 3, 4
    mports = (19621, 19622, 19623)
    rec = f"/tmp/tcpphase-test-cg-{os.getpid()}.tpp"
    with Cgroups() as cg, SingleNs() as lab:
        w = Workloads(cg)
        cg.make(w.svc_cg)
        cg.make(w.ctr_cg)
        only = ("--cgroup", cg.fs())  # this test's sockets only, whatever runs beside
        with Tracer("--csv", *only, "-W", rec, "--metrics", f"127.0.0.1:{mports[0]}",
                    "--metrics-by", "workload") as rows_tr, \
                Tracer("--summary", "--by", "workload", *only,
                       "--metrics", f"127.0.0.1:{mports[1]}", "--metrics-by", "workload",
                       "--metrics-top", "1") as wl_tr, \
                Tracer("--summary", "--by", "cgroup", *only,
                       "--metrics", f"127.0.0.1:{mports[2]}") as cg_tr:
            leak_close_wait(lab, w, port, n, refused)
            want = {"active,ok": n, "active,refused": refused, "passive,ok": n}

            def conns(text, labels=""):
                return {k: series_sum(text, "tcpphase_connections_total{role=\"%s\",result=\"%s\""
                                      % tuple(k.split(",")) + labels)
                        for k in want}

            # every tracer has counted what the metrics show (phases end, results)
            def settled():
                texts = [scrape(p) for p in mports]
                return all(conns(t) == want and series_sum(
                    t, 'tcpphase_phase_seconds_count{phase="close_wait"') == n for t in texts)
            wait_for("the three exporters to count every endpoint", settled)
            named, top1, plain = (scrape(p) for p in mports)
            for t in (rows_tr, wl_tr, cg_tr):
                t.stop()
        rows = rows_tr.rows()

        # the CSV: the service's ends in CLOSE_WAIT, the container's connects
        svc_rows = [r for r in rows if r["workload"] == w.svc]
        ctr_rows = [r for r in rows if r["workload"] == w.ctr]
        assert_eq("rows, all ours", len(rows), len(svc_rows) + len(ctr_rows))
        assert_eq("service rows", len(svc_rows), n)
        assert_eq("container rows", len(ctr_rows), n + refused)
        assert all(r["close_wait_us"] != "" for r in svc_rows), svc_rows
        assert all(r["cgroup"] == cg.path(w.svc_cg) for r in svc_rows), svc_rows

        def counts(rs):
            return {"handshake active": sum(r["role"] == "active" and r["result"] == "ok"
                                            and r["handshake_us"] != "" for r in rs),
                    "handshake passive": sum(r["role"] == "passive" and r["result"] == "ok"
                                             and r["handshake_us"] != "" for r in rs),
                    "CLOSE_WAIT": sum(r["close_wait_us"] != "" for r in rs)}

        def check_group(out, by, label, rs, what):
            conns_n, phases = group(out, by, label)
            assert_eq(f"{what}: connections", conns_n, len(rs))
            for phase, k in counts(rs).items():
                assert_eq(f"{what}: {phase}", phases.get(phase, 0), k)

        # --by workload, live and replayed from the recording; --by cgroup
        try:
            replay = subprocess.run([TCPPHASE, "-r", rec, "--summary", "--by", "workload"],
                                    capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(rec)
        assert_eq("replay status", replay.returncode, 0)
        for out, what in ((wl_tr.out, "live"), (replay.stdout, "replay")):
            check_group(out, "workload", w.svc, svc_rows, f"{what} service")
            check_group(out, "workload", w.ctr, ctr_rows, f"{what} container")
            assert "by workload: 2 of 2 groups" in out, out
        assert_eq("service's CLOSE_WAITs", group(wl_tr.out, "workload", w.svc)[1]["CLOSE_WAIT"], n)
        check_group(cg_tr.out, "cgroup", cg.path(w.svc_cg), svc_rows, "cgroup service")
        check_group(cg_tr.out, "cgroup", cg.path(w.ctr_cg), ctr_rows, "cgroup container")

        # /metrics: both names; with a top of 1 the busier container only
        svc_l, ctr_l = f',workload="{w.svc}"', f',workload="{w.ctr}"'
        assert_eq("named: service's close_wait", series_sum(
            named, 'tcpphase_phase_seconds_count{phase="close_wait"' + svc_l), n)
        assert_eq("named: container's connects", conns(named, ctr_l),
                  {"active,ok": n, "active,refused": refused, "passive,ok": 0})
        assert_eq("named: service's accepts", conns(named, svc_l)["passive,ok"], n)
        assert f'workload="{w.svc}"' not in top1, "top 1: the service is not named"
        assert_eq("top 1: the container's connects", conns(top1, ctr_l)["active,refused"],
                  refused)
        assert_eq("top 1: other is the service", series_sum(
            top1, 'tcpphase_phase_seconds_count{phase="close_wait",workload="other"}'), n)
        assert 'workload=' not in plain, "no label without --metrics-by"
        for fam in ('tcpphase_handshake_seconds_count{role="active"',
                    'tcpphase_handshake_seconds_count{role="passive"',
                    'tcpphase_phase_seconds_count{phase="close_wait"',
                    'tcpphase_phase_seconds_count{phase="last_ack"',
                    'tcpphase_connections_total{'):
            for text, what in ((named, "named"), (top1, "top 1")):
                assert_eq(f"{what}: {fam} adds up", series_sum(text, fam), series_sum(plain, fam))


# tcpphase where no cgroup2 mount can be reached: a private mount namespace
# with a tmpfs over /sys/fs/cgroup, which hides a pure v2 root and the hybrid
# layout's unified/ alike (mountinfo still lists the covered mount)
NO_CGROUP2 = ("unshare", "-m", "--propagation", "private", "sh", "-c",
              'mount -t tmpfs none /sys/fs/cgroup && exec "$@"', "sh")


@test("cgroups: no cgroup2 mount: empty columns, one warning, the rest works")
def cgroup_none_mounted():
    port, mport = 7630, 19631
    warning = "warning: no cgroup2 file system mounted"
    with Cgroups() as cg, SingleNs() as lab:
        with Tracer("--csv", "--metrics", f"127.0.0.1:{mport}", "--metrics-by", "workload",
                    prefix=NO_CGROUP2) as tr, \
                Tracer("--summary", "--by", "workload", prefix=NO_CGROUP2) as sum_tr:
            exchange(lab, cg, port)
            wait_for("the 4 handshakes in the metrics", lambda: series_sum(
                scrape(mport), 'tcpphase_handshake_seconds_count{role=') >= 4)
            text = scrape(mport)
            tr.stop()
            sum_tr.stop()
        ns = netns_inode(lab.ns)
        rows = [r for r in tr.rows() if r["netns"] == ns]
        assert_eq("rows", len(rows), 4)
        for r in rows:
            assert_eq("cgroup column", r["cgroup"], "")
            assert_eq("workload column", r["workload"], "")
            assert r["handshake_us"] != "" and r["result"] == "ok", r
        for t in (tr, sum_tr):
            assert_eq("warnings", [line for line in t.err.splitlines() if "cgroup" in line],
                      [f"tcpphase: {warning}: the cgroup and workload columns stay empty"])
        assert re.search(r"^workload -: \d+ connections$", sum_tr.out, re.M), sum_tr.out
        assert "by workload: 1 of 1 groups" in sum_tr.out, sum_tr.out
        assert re.search(r'^tcpphase_connections_total\{role="passive",result="ok",'
                         r'workload="unknown"\} [1-9]', text, re.M), text
        assert_eq("workload labels", set(re.findall(r'workload="([^"]*)"', text)),
                  {"unknown", "other"})
    r = subprocess.run([*NO_CGROUP2, TCPPHASE, "--cgroup", "/system.slice", "-d", "1"],
                       capture_output=True, text=True, timeout=30)
    assert_eq("--cgroup without a mount: status", r.returncode, 2)
    assert_eq("--cgroup without a mount: one line", len(r.stderr.strip().splitlines()), 1)
    assert "no cgroup2 file system is mounted" in r.stderr, r.stderr
