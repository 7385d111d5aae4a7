"""Per-connection lifecycles across a 25 ms-each-way delay line (RTT 50 ms).

Client in namespace A, server in B, tcpphase --csv tracing both. Every time
is checked against what happened (truth.py): the delay line's packet stamps
and the peers' own stamps, never against the nominal delay, so the checks
hold on a busy machine.
"""

import os
import re
import subprocess
import time
from types import SimpleNamespace

from harness import (Tracer, assert_between, assert_eq, check_loss_arithmetic, loss_line, ms,
                     netns_inode, peer, test, wait_peer)
from netlab import Lab, sockets, wait_for
from truth import JIFFY_MS, SLACK_MS, Wire, check, stamps

LIFECYCLE_COLUMNS = (
    "start_time,end_time,pid,comm,netns,family,role,laddr,lport,raddr,rport,result,"
    "handshake_us,syn_retrans,accept_wait_us,established_us,closer,fin_wait1_us,"
    "fin_wait2_us,close_wait_us,last_ack_us,closing_us,time_wait_us,tw_end,tx_bytes,"
    "rx_bytes,retrans,srtt_us,partial,cgroup,workload,rst,rst_reason")


def rows_of(tr, lab, port):
    """(client rows in A, server rows in B) for connections to port."""
    a, b = netns_inode(lab.ns_a), netns_inode(lab.ns_b)
    rows = tr.rows()
    cli = [r for r in rows if r["netns"] == a and r["rport"] == str(port)]
    srv = [r for r in rows if r["netns"] == b and r["lport"] == str(port)]
    return cli, srv


def one(rows, what):
    assert len(rows) == 1, f"{what}: {len(rows)} rows: {rows}"
    return rows[0]


def exchange(port, cli_opts=(), srv_opts=(), ipv6=False, lab_setup=None,
             tracer_args=("--csv",), delay_ms=25, during=None):
    """One connection A -> B; returns its rows, pids, stamps and packets.
    during(lab), if given, runs while the peers do."""
    with Lab(delay_ms=delay_ms) as lab, Tracer(*tracer_args) as tr:
        if lab_setup:
            lab_setup(lab)
        host = lab.addr6_b if ipv6 else lab.addr_b
        srv = peer(lab, lab.ns_b, "server", host, port, *srv_opts)
        cli = peer(lab, lab.ns_a, "client", host, port, *cli_opts)
        if during:
            during(lab)
        cout = wait_peer(cli)
        sout = wait_peer(srv)
        lab.settle(port)
        tr.stop()
        c, s = rows_of(tr, lab, port)
        wire = Wire(lab.packets(), port)
    return SimpleNamespace(tr=tr, c=c, s=s, cpid=cli.pid, spid=srv.pid, cout=cout, sout=sout,
                           cst=stamps(cout), sst=stamps(sout), wire=wire)


def check_client_handshake(x, c):
    """connect() to ESTABLISHED: from the SYN's departure to the SYN-ACK's
    delivery at least, connect()'s own duration at most."""
    conn = x.cst["connect"]
    check("client handshake ms", ms(c, "handshake_us"),
          x.wire.synack().wr0 - x.wire.syn().read, conn[1] - conn[0])


def check_server_handshake(x, s):
    """SYN arrival to ESTABLISHED: from the SYN-ACK's departure to the final
    ACK's delivery at least, from the SYN's delivery to accept()'s return at
    most."""
    w = x.wire
    check("server handshake ms", ms(s, "handshake_us"),
          w.handshake_ack().wr0 - w.synack().read, x.sst["accept"][1] - w.syn().wr0)


def check_close_wait(x, s):
    """From the client's FIN (delivered before the server's read saw EOF) to
    the server's close() (before its FIN left)."""
    fin_in = x.wire.first("ab", "F")
    fin_out = x.wire.first("ba", "F")
    check("server close_wait ms", ms(s, "close_wait_us"),
          x.sst["close"][0] - x.sst["eof"][1], fin_out.read - fin_in.wr0)
    return fin_in, fin_out


def check_client_fin_waits(x, c, slack):
    """From the client's close (or shutdown) to the server's FIN's delivery."""
    fin_out = x.wire.first("ab", "F")
    fin_in = x.wire.first("ba", "F")
    ack = x.wire.first("ab", "A", "F", after=fin_in.wr0)
    began = x.cst.get("shutdown") or x.cst["close"]
    check("client fin_wait1+fin_wait2 ms", ms(c, "fin_wait1_us") + ms(c, "fin_wait2_us"),
          fin_in.wr0 - fin_out.read, ack.read - began[0], slack)


@test("lifecycle: handshakes on both sides, server sits in CLOSE_WAIT 300 ms")
def lifecycle_close_wait():
    x = exchange(7201, ("--then", "close"), ("--then", "eof", "--delay", "0.3"))
    assert_eq("header", x.tr.out.splitlines()[0], LIFECYCLE_COLUMNS)
    c, s = one(x.c, "client"), one(x.s, "server")
    assert_eq("client role", c["role"], "active")
    assert_eq("client pid", c["pid"], str(x.cpid))
    assert_eq("client result", c["result"], "ok")
    check_client_handshake(x, c)
    assert_eq("client syn_retrans", c["syn_retrans"], "0")
    assert_eq("client closer", c["closer"], "local")
    # The client is an orphan by the time the server's FIN comes: its
    # FIN_WAIT2 ends when that FIN turns the tw sock to TIME_WAIT, a re-arm
    # that usually fires no timer event and is read from the timer's expiry,
    # known to a jiffy
    check_client_fin_waits(x, c, JIFFY_MS + SLACK_MS)
    assert_eq("client tw_end", c["tw_end"], "in_progress")
    assert_eq("client partial", c["partial"], "0")
    assert_eq("server role", s["role"], "passive")
    assert_eq("server pid", s["pid"], str(x.spid))
    assert_eq("server comm", s["comm"], "python3")
    assert_eq("server result", s["result"], "ok")
    check_server_handshake(x, s)
    # accept() is traced only with --accept; the owner is the task that closed
    assert_eq("server accept wait", s["accept_wait_us"], "")
    assert_eq("server closer", s["closer"], "remote")
    _, fin_out = check_close_wait(x, s)
    # LAST_ACK: from the server's close() to the delivery of the ACK of its FIN
    last = x.wire.first("ab", "A", "F", after=fin_out.wr0)
    check("server last_ack ms", ms(s, "last_ack_us"), last.wr0 - fin_out.read,
          last.wr1 - x.sst["close"][0])
    assert_eq("server tw_end", s["tw_end"], "none")
    assert_eq("server fin_wait1", s["fin_wait1_us"], "")
    # as tcp_info counts them (tcpi_bytes_received/acked): payload, FIN
    assert_eq("server rx_bytes", s["rx_bytes"], "2")
    assert_eq("client tx_bytes", c["tx_bytes"], "3")  # and the SYN
    # the smoothed RTT lies between the shortest round trip on the wire and
    # the longest one possible: the SYN's departure to the last reply
    w = x.wire
    last_in = [p for p in w.pkts if p.dir == "ba"][-1]
    check("client srtt ms", int(c["srtt_us"]) / 1000, w.synack().wr0 - w.syn().read,
          last_in.wr1 - w.syn().read)


@test("lifecycle: client half-closes with shutdown(SHUT_WR)")
def lifecycle_shutdown():
    x = exchange(7202, ("--then", "shutdown"), ("--then", "eof", "--delay", "0.2"))
    c, s = one(x.c, "client"), one(x.s, "server")
    assert_eq("client closer", c["closer"], "local")
    check_client_fin_waits(x, c, SLACK_MS)
    check_close_wait(x, s)
    assert_eq("client tw_end", c["tw_end"], "in_progress")


@test("lifecycle: simultaneous close through CLOSING")
def lifecycle_simultaneous():
    # both close once told to, when both ends are established; 100 ms each
    # way leaves a wide window in which their FINs cross
    go = f"/tmp/tcpphase-test-go-{os.getpid()}"

    def both_established(lab):
        for ns in (lab.ns_a, lab.ns_b):
            wait_for("ESTABLISHED", lambda: any(s[0] == "ESTAB" for s in sockets(ns, 7203)))
        open(go, "w").close()

    try:
        x = exchange(7203, ("--then", "close", "--go", go), ("--then", "close", "--go", go),
                     delay_ms=100, during=both_established)
    finally:
        os.unlink(go)
    for name, r, st, own, other in (("client", one(x.c, "client"), x.cst, "ab", "ba"),
                                    ("server", one(x.s, "server"), x.sst, "ba", "ab")):
        assert_eq(f"{name} closer", r["closer"], "simultaneous")
        fin_out = x.wire.first(own, "F")
        fin_in = x.wire.first(other, "F")
        # FIN_WAIT1: close() to the peer's FIN; CLOSING: to the ACK of ours
        check(f"{name} fin_wait1 ms", ms(r, "fin_wait1_us"), fin_in.wr0 - fin_out.read,
              fin_in.wr1 - st["close"][0])
        ack = x.wire.first(other, "A", "F", after=fin_in.read)
        check(f"{name} closing ms", ms(r, "closing_us"), ack.wr0 - fin_in.wr1,
              ack.wr1 - fin_in.wr0)
        assert_eq(f"{name} tw_end", r["tw_end"], "in_progress")


@test("lifecycle: RST close with SO_LINGER 0")
def lifecycle_rst():
    x = exchange(7204, ("--then", "close", "--delay", "0.1", "--linger0"), ("--then", "eof"))
    c, s = one(x.c, "client"), one(x.s, "server")
    assert_eq("client closer", c["closer"], "reset")
    assert_eq("server closer", s["closer"], "reset")
    assert_eq("client tw_end", c["tw_end"], "none")
    assert_eq("client fin_wait1", c["fin_wait1_us"], "")
    # from ESTABLISHED (SYN-ACK delivered, before connect() returned) to close()
    conn, close = x.cst["connect"], x.cst["close"]
    check("client established ms", ms(c, "established_us"), close[0] - conn[1],
          close[1] - x.wire.synack().wr0)


@test("lifecycle: refused connect")
def lifecycle_refused():
    with Lab(delay_ms=25) as lab, Tracer("--csv") as tr:
        out = wait_peer(peer(lab, lab.ns_a, "client", lab.addr_b, 7205))
        lab.settle(7205)
        tr.stop()
        c, _ = rows_of(tr, lab, 7205)
        wire = Wire(lab.packets(), 7205)
    assert "connect_errno=111" in out, out
    c = one(c, "client")
    assert_eq("result", c["result"], "refused")
    conn = stamps(out)["connect"]
    check("handshake ms (to the RST)", ms(c, "handshake_us"),
          wire.first("ba", "R").wr0 - wire.syn().read, conn[1] - conn[0])
    assert_eq("established", c["established_us"], "")
    assert_eq("tw_end", c["tw_end"], "none")


def nft_drop(ns, match):
    """Drop incoming packets that match an nftables expression in ns."""
    rules = ("table inet tpt {\n chain in {\n  type filter hook input priority 0;\n"
             f"  {match} drop\n }}\n}}\n")
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules, text=True,
                   check=True)


@test("lifecycle: SYNs dropped by nftables time out with retransmits counted")
def lifecycle_syn_timeout():
    def setup(lab):
        nft_drop(lab.ns_b, "tcp dport 7206 tcp flags & (syn | ack) == syn")
        lab.sysctl(lab.ns_a, "net.ipv4.tcp_syn_retries", "2")
        # 6.5+ retransmits the first SYNs at a fixed 1 s: back off at once
        lab.sysctl(lab.ns_a, "net.ipv4.tcp_syn_linear_timeouts", "0")

    with Lab(delay_ms=25) as lab, Tracer("--csv") as tr:
        setup(lab)
        out = wait_peer(peer(lab, lab.ns_a, "client", lab.addr_b, 7206))
        lab.settle(7206)
        tr.stop()
        c, _ = rows_of(tr, lab, 7206)
    assert "connect_errno=110" in out, out
    c = one(c, "client")
    assert_eq("result", c["result"], "timeout")
    assert_eq("syn_retrans", c["syn_retrans"], "2")
    # SYN at 0, retransmits 1 s and 2 s apart, gives up 4 s later: timers
    # never fire early, but each may be armed up to a jiffy short; at most
    # connect()'s own duration
    conn = stamps(out)["connect"]
    check("handshake ms", ms(c, "handshake_us"), 7000 - 3 * JIFFY_MS, conn[1] - conn[0])


@test("lifecycle: passive handshake that never completes (final ACK dropped)")
def lifecycle_passive_timeout():
    def syn_recv():
        return [s for s in sockets(lab.ns_b, 7207) if s[0] == "SYN-RECV"]

    with Lab(delay_ms=25) as lab, Tracer("--csv") as tr:
        nft_drop(lab.ns_b, "tcp dport 7207 tcp flags & (syn | ack) == ack")
        lab.sysctl(lab.ns_b, "net.ipv4.tcp_synack_retries", "1")
        srv = peer(lab, lab.ns_b, "server", lab.addr_b, 7207, "--timeout", "10")
        cli = peer(lab, lab.ns_a, "client", lab.addr_b, 7207, "--then", "close",
                   "--delay", "4", "--linger0")
        # the kernel's own view: the request is there, then dropped
        wait_for("the request sock", syn_recv)
        wait_for("the request sock to be dropped", lambda: not syn_recv())
        gone = time.monotonic_ns() / 1e6
        wait_peer(cli)
        srv.kill()
        tr.stop()
        _, s = rows_of(tr, lab, 7207)
        wire = Wire(lab.packets(), 7207)
    s = one(s, "server")
    assert_eq("role", s["role"], "passive")
    assert_eq("result", s["result"], "timeout")
    assert_eq("syn_retrans", s["syn_retrans"], "1")
    # SYN-ACK at 0, again 1 s later, request dropped when the timer fires
    # 2 s after that (never early, armed up to a jiffy short); at most until
    # ss saw it gone
    check("handshake ms", ms(s, "handshake_us"), 3000 - 2 * JIFFY_MS, gone - wire.syn().wr0)
    assert_eq("established", s["established_us"], "")


@test("lifecycle: IPv6 handshakes and close")
def lifecycle_ipv6():
    x = exchange(7208, ("--then", "close"), ("--then", "eof", "--delay", "0.1"), ipv6=True)
    c, s = one(x.c, "client"), one(x.s, "server")
    assert_eq("family", c["family"], "ipv6")
    assert_eq("laddr", c["laddr"], "fd77::1")
    assert_eq("raddr", c["raddr"], "fd77::2")
    check_client_handshake(x, c)
    check_server_handshake(x, s)
    check_close_wait(x, s)


@test("lifecycle: accept queue wait")
def lifecycle_accept_wait():
    x = exchange(7209, ("--then", "eof"), ("--then", "close", "--accept-delay", "0.5"),
                 tracer_args=("--csv", "--accept"))
    s = one(x.s, "server")
    assert_eq("server pid", s["pid"], str(x.spid))
    # from ESTABLISHED (the final ACK's delivery) to accept()'s return
    ack, acc = x.wire.handshake_ack(), x.sst["accept"]
    check("accept wait ms", ms(s, "accept_wait_us"), acc[0] - ack.wr1, acc[1] - ack.wr0)
    assert_eq("server closer", s["closer"], "local")


@test("lifecycle: a forking server's passive rows name the child that closed them")
def lifecycle_forked_owner():
    for args in (("--csv",), ("--csv", "--accept")):
        x = exchange(7210, ("--then", "eof"), ("--then", "close", "--fork"), tracer_args=args)
        s = one(x.s, "server")
        child = re.search(r"^child=(\d+)$", x.sout, re.M)
        assert child, x.sout
        assert child.group(1) != str(x.spid), "no fork"
        assert_eq(f"server pid {args}", s["pid"], child.group(1))


def same_record(k, a, r, exact, timed):
    """The aggregating tracer's record a says what the per-transition one, r, says."""
    for col in exact:
        assert_eq(f"{k} {col}", a[col], r[col])
    for col in timed:
        # each tracer's programs read the clock themselves, and a tw sock's
        # times come from its timer's jiffies (4 ms at HZ=250)
        if "7224" in k and col != "handshake_us":
            continue  # cut at each tracer's own exit
        if r[col] == "":
            assert_eq(f"{k} {col}", a[col], "")
        else:
            assert_between(f"{k} {col} ms", ms(a, col), ms(r, col) - 5, ms(r, col) + 5)


@test("aggregation: the same records as --no-aggregate, open sockets read at exit")
def lifecycle_aggregation_equivalent():
    """Two tracers at once: one gathers transitions in the kernel, one not."""
    with Lab(delay_ms=25) as lab, Tracer("--csv") as agg, \
            Tracer("--csv", "--no-aggregate") as raw:
        host = lab.addr_b
        runs = [  # (port, client options, server options)
            (7221, ("--then", "close"), ("--then", "eof", "--delay", "0.1")),
            (7222, ("--then", "eof"), ("--then", "close", "--delay", "0.1")),
            (7223, ("--then", "close", "--linger0"), ("--then", "eof")),
        ]
        for port, cli_opts, srv_opts in runs:
            srv = peer(lab, lab.ns_b, "server", host, port, *srv_opts)
            wait_peer(peer(lab, lab.ns_a, "client", host, port, *cli_opts))
            wait_peer(srv)
        # still in CLOSE_WAIT when tracing stops: read from its slot at exit
        stuck = peer(lab, lab.ns_b, "server", host, 7224, "--then", "eof", "--delay", "5")
        wait_peer(peer(lab, lab.ns_a, "client", host, 7224, "--then", "close"))
        for port, _, _ in runs:
            lab.settle(port)
        lab.settle_ns(lab.ns_b, 7224, keep=("CLOSE-WAIT", "LISTEN"))
        # and the client has its FIN's ACK (a delay after the server's
        # CLOSE_WAIT): else a tracer may stop between its FIN_WAIT1 and 2
        lab.settle_ns(lab.ns_a, 7224, keep=("FIN-WAIT-2", "TIME-WAIT"))
        agg.stop()
        raw.stop()
        stuck.kill()
        fin = Wire(lab.packets(), 7224).first("ab", "F")
    assert "found no aggregation slot" not in agg.err, agg.err
    key = ("netns", "role", "lport", "rport")
    exact = ("pid", "comm", "family", "laddr", "raddr", "result", "syn_retrans", "closer",
             "tw_end", "tx_bytes", "rx_bytes", "partial")
    timed = ("handshake_us", "established_us", "fin_wait1_us", "fin_wait2_us",
             "close_wait_us", "last_ack_us", "closing_us")
    a = {tuple(r[k] for k in key): r for r in agg.rows()}
    r = {tuple(x[k] for k in key): x for x in raw.rows()}
    mine = {k for k in r if k[2] in ("7221", "7222", "7223", "7224") or
            k[3] in ("7221", "7222", "7223", "7224")}
    assert_eq("endpoints", len(mine), 8)
    for k in mine:
        assert k in a, f"aggregating tracer has no record for {k}: {sorted(a)}"
        try:
            same_record(k, a[k], r[k], exact, timed)
        except AssertionError as err:  # show both records whole, and the tracers' last words
            raise AssertionError(f"{err}\n aggregating: {a[k]}\n per transition: {r[k]}\n"
                                 f"{agg.err}{raw.err}") from None
    s = [a[k] for k in mine if k[1] == "passive" and k[2] == "7224"][0]
    assert_eq("open at exit: partial", s["partial"], "1")
    # from the client's FIN's delivery to the aggregating tracer's exit
    check("open at exit: close_wait so far ms", ms(s, "close_wait_us"),
          agg.stop_ms - fin.wr1, agg.stopped_ms - fin.wr0)


def burst_wire(pkts):
    """One connection's SYN, SYN-ACK, final ACK and the two FINs (a Wire
    over packets already picked by the client's port)."""
    w = Wire([], 0)
    w.pkts = pkts
    return w


def check_burst_client(r, pkts):
    w = burst_wire(pkts)
    what = f"client {r['lport']}"
    # from before the SYN left to the SYN-ACK's delivery: at least its flight
    lo = w.synack().wr0 - w.syn().read
    assert ms(r, "handshake_us") >= lo - SLACK_MS, f"{what} handshake {r['handshake_us']} us < " \
        f"{lo:.3f} ms on the wire"
    # FIN_WAIT1 + FIN_WAIT2: from its FIN's departure at most to the
    # server's FIN's delivery at least
    fin_out, fin_in = w.first("ab", "F"), w.first("ba", "F")
    # (the orphan's FIN_WAIT2 ends at a time derived from jiffies)
    fw = ms(r, "fin_wait1_us") + ms(r, "fin_wait2_us")
    assert fw >= fin_in.wr0 - fin_out.read - SLACK_MS - JIFFY_MS, \
        f"{what} fin_wait1+2 {fw} ms < {fin_in.wr0 - fin_out.read:.3f} ms on the wire"


def check_burst_server(r, pkts):
    w = burst_wire(pkts)
    what = f"server {r['lport']} <- {r['rport']}"
    # SYN arrival (its timer armed before the SYN-ACK leaves) to
    # ESTABLISHED: not before the client's ACK is delivered, nor after the
    # child's first packet leaves. Not at that ACK's delivery: with 32
    # connections at a time the accept queue may be full, and the kernel
    # drops the ACK (the child is made from the next one)
    ack, syn = w.handshake_ack(), w.syn()
    child = w.first("ba", "A", "S")
    check(f"{what} handshake ms", ms(r, "handshake_us"), ack.wr0 - w.synack().read,
          child.read - syn.wr0)
    # LAST_ACK: the client's ACK of the server's FIN delivered, at least
    # after that FIN left
    fin = w.first("ba", "F")
    last = w.first("ab", "A", "F", after=fin.wr0)
    assert ms(r, "last_ack_us") >= last.wr0 - fin.read - SLACK_MS, \
        f"{what} last_ack {r['last_ack_us']} us < {last.wr0 - fin.read:.3f} ms on the wire"


@test("burst: 2000 connections, 32 at a time: both rows of every one")
def lifecycle_burst():
    """The aggregation path under load: no row missing, doubled or split."""
    n, port = 2000, 7231
    with Lab(delay_ms=1) as lab, Tracer("--csv") as tr:
        host = lab.addr_b
        srv = peer(lab, lab.ns_b, "server", host, port, "--count", n)
        wait_peer(peer(lab, lab.ns_a, "client", host, port, "--count", n, "--conc", 32),
                  timeout=120)
        wait_peer(srv)
        lab.settle(port)
        tr.stop()
        cli, srv_rows = rows_of(tr, lab, port)
        packets = lab.packets()
    # the exact accounting of the final loss line (README, "Losses are never
    # silent"): its records are the CSV's rows, its partial ones the rows
    # marked so, and its parts add up
    loss = loss_line(tr.err)
    check_loss_arithmetic(loss)
    rows = tr.rows()
    assert_eq("records = CSV rows (every tracer row, the host's too)", loss["records"], len(rows))
    assert_eq("partial = CSV rows marked partial", loss["partial"],
              sum(1 for r in rows if r["partial"] != "0"))
    # no row doubled or split: one per client port on each side
    assert_eq("distinct client ports", len({r["lport"] for r in cli}), len(cli))
    assert_eq("distinct server peers", len({r["rport"] for r in srv_rows}), len(srv_rows))
    assert len(cli) <= n and len(srv_rows) <= n, f"{len(cli)} + {len(srv_rows)} rows for {n}"
    # every connection made has both its rows, whole, or the loss line owns
    # up to what is not: a row dropped (ring buffer or table full: the
    # host's other load counts there too) or partial (the kernel may skip a
    # closing socket's FIN_WAIT1 -> FIN_WAIT2 -> CLOSE: a missed transition)
    # is at least one event in "lost". Nothing lost: all 2n rows, whole
    missing = 2 * n - len(cli) - len(srv_rows)
    partial = [r for r in cli + srv_rows if r["partial"] != "0"]
    assert missing + len(partial) <= loss["lost"], \
        f"{missing} rows missing and {len(partial)} partial of {2 * n}, but: {tr.err}"
    assert len(partial) <= loss["missed"] + loss["ringbuf"] + loss["table_full"], tr.err
    if not missing:
        assert_eq("passive rows' peers", {r["rport"] for r in srv_rows},
                  {r["lport"] for r in cli})
    for r in partial:
        assert r["closer"] != "reset" and r["rst"] == "", f"a partial row was reset: {r}"
    for r in cli + srv_rows:
        if r["role"] not in ("active", "passive") or r["result"] != "ok":
            raise AssertionError(f"row not whole: {r}")
    whole = [r for r in cli if r["partial"] == "0"]
    assert_eq("closers", {r["closer"] for r in whole}, {"local"})
    ended = [r for r in whole if r["tw_end"] != "in_progress"]
    assert not ended, f"TIME_WAIT not in progress at exit: {ended}\n{tr.err}"
    whole_srv = [r for r in srv_rows if r["partial"] == "0"]
    assert_eq("server closers", {r["closer"] for r in whole_srv}, {"remote"})
    assert_eq("server TIME_WAIT", {r["tw_end"] for r in whole_srv}, {"none"})
    # each whole row's phases, against its peer's on the wire: a passive
    # handshake spans the SYN's delivery to the final ACK's; the client's
    # from before its SYN left to the SYN-ACK's delivery
    wires = {}
    for p in packets:
        if p.proto == 6 and port in (p.sport, p.dport):
            wires.setdefault(p.dport if p.sport == port else p.sport, []).append(p)
    for r in whole:
        check_burst_client(r, wires.get(int(r["lport"]), []))
    for r in whole_srv:
        check_burst_server(r, wires.get(int(r["rport"]), []))
