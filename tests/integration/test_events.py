"""The state-change stream: tcpphase --events --csv against real connections."""

import os
import signal
import subprocess
import time

from harness import (Tracer, assert_eq, netns_inode, peer, test, wait_peer, TCPPHASE)
from netlab import SingleNs

EVENT_COLUMNS = ("time,pid,comm,netns,family,laddr,lport,raddr,rport,oldstate,newstate,"
                 "elapsed_us,cgroup,workload")


def by_socket(rows, lport, rport):
    """The transitions of one endpoint, in order."""
    return [(r["oldstate"], r["newstate"]) for r in rows
            if r["lport"] == str(lport) and r["rport"] == str(rport)]


def client_port(rows, srv_port):
    ports = {r["lport"] for r in rows if r["rport"] == str(srv_port) and r["lport"] != "0"}
    assert len(ports) == 1, f"client ports seen: {ports}"
    return int(ports.pop())


ACTIVE_CLOSE = [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
                ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"),
                ("FIN_WAIT2", "CLOSE")]
PASSIVE_CLOSE = [("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                 ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                 ("LAST_ACK", "CLOSE")]


def run_pair(host, port, client_then, server_then, family_args=()):
    with SingleNs() as ns, Tracer("--events", "--csv", *family_args) as tr:
        srv = peer(ns, ns.ns, "server", host, port, "--then", server_then, "--delay", "0.1")
        cli = peer(ns, ns.ns, "client", host, port, "--then", client_then, "--delay", "0.1")
        wait_peer(cli)
        wait_peer(srv)
        ns.settle(port)
        tr.stop()
        inode = netns_inode(ns.ns)
    rows = [r for r in tr.rows() if r["netns"] == inode]
    return tr, rows, cli.pid, srv.pid


def checked_pair(host, port, client_then, server_then, client_closes, family_args=()):
    """run_pair + check_pair, once more if the first run lost its closer's tail.

    Rarely (about one run in 30 here) the kernel runs neither program for the
    closer's FIN_WAIT1 -> FIN_WAIT2 and FIN_WAIT2 -> CLOSE: the tracepoint's
    run and recursion-miss counts both fall short of the transitions made
    (bench/RESULTS.md). Only that loss, a missing tail, earns a second run.
    """
    for attempt in (1, 2):
        tr, rows, cpid, spid = run_pair(host, port, client_then, server_then, family_args)
        try:
            check_pair(rows, port, cpid, spid, client_closes)
            return tr, rows
        except AssertionError:
            if attempt == 2 or not tail_lost(rows, port, client_closes):
                raise


def tail_lost(rows, port, client_closes):
    """The closer's transitions are the expected ones with the last two missing."""
    cport = client_port(rows, port)
    closer = by_socket(rows, cport, port) if client_closes else by_socket(rows, port, cport)
    closer = [t for t in closer if t != ("CLOSE", "SYN_SENT")]
    want = ACTIVE_CLOSE[1:] if client_closes else [
        ("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"), ("ESTABLISHED", "FIN_WAIT1"),
        ("FIN_WAIT1", "FIN_WAIT2"), ("FIN_WAIT2", "CLOSE")]
    return closer == want[:-2]


def check_pair(rows, port, cli_pid, srv_pid, client_closes):
    cport = client_port(rows, port)
    cli = by_socket(rows, cport, port)
    cli = [t for t in cli if t != ("CLOSE", "SYN_SENT")]
    srv = by_socket(rows, port, cport)
    active, passive = ACTIVE_CLOSE[1:], PASSIVE_CLOSE
    if not client_closes:
        active = [("SYN_SENT", "ESTABLISHED"), ("ESTABLISHED", "CLOSE_WAIT"),
                  ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSE")]
        passive = [("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                   ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"),
                   ("FIN_WAIT2", "CLOSE")]
    assert_eq("client transitions", cli, active)
    assert_eq("server transitions", srv, passive)
    # connect() runs in the client: its pid, and the port may still be 0
    syn = [r for r in rows if r["newstate"] == "SYN_SENT" and r["rport"] == str(port)]
    assert_eq("SYN_SENT rows", len(syn), 1)
    assert_eq("connect pid", syn[0]["pid"], str(cli_pid))
    assert_eq("connect comm", syn[0]["comm"], "python3")
    closer_row = [r for r in rows if r["newstate"] in ("FIN_WAIT1",)]
    assert_eq("closer pid", closer_row[0]["pid"], str(cli_pid if client_closes else srv_pid))
    last_ack = [r for r in rows if r["newstate"] == "LAST_ACK"]
    assert_eq("LAST_ACK pid", last_ack[0]["pid"], str(srv_pid if client_closes else cli_pid))
    listen = [r for r in rows if r["newstate"] == "LISTEN"]
    assert_eq("listen pid", listen[0]["pid"], str(srv_pid))
    # every transition but the first of a socket says how long the old state lasted
    for r in rows:
        if r["oldstate"] not in ("CLOSE",) and not (r["oldstate"] == "LISTEN"
                                                   and r["newstate"] == "SYN_RECV"):
            assert r["elapsed_us"] != "", f"no elapsed_us in {r}"


@test("events: IPv4 loopback, client closes first")
def events_v4_client_closes():
    tr, rows = checked_pair("127.0.0.1", 7101, "close", "eof", client_closes=True)
    assert_eq("header", tr.out.splitlines()[0], EVENT_COLUMNS)
    assert all(r["family"] == "ipv4" and r["laddr"] == "127.0.0.1" for r in rows)
    assert "lost 0 " in tr.err, tr.err


@test("events: IPv4 loopback, server closes first")
def events_v4_server_closes():
    checked_pair("127.0.0.1", 7102, "eof", "close", client_closes=False)


@test("events: IPv6 on ::1")
def events_v6():
    tr, rows = checked_pair("::1", 7103, "close", "eof", client_closes=True, family_args=("-6",))
    assert all(r["family"] == "ipv6" and r["laddr"] == "::1" for r in rows), rows


@test("events: refused connect")
def events_refused():
    with SingleNs() as ns, Tracer("--events", "--csv") as tr:
        cli = peer(ns, ns.ns, "client", "127.0.0.1", 7104)
        out = wait_peer(cli)
        ns.settle(7104)
        tr.stop()
        inode = netns_inode(ns.ns)
    assert "connect_errno=111" in out, out
    rows = [r for r in tr.rows() if r["netns"] == inode]
    assert_eq("transitions", [(r["oldstate"], r["newstate"]) for r in rows],
              [("CLOSE", "SYN_SENT"), ("SYN_SENT", "CLOSE")])
    assert_eq("pid", rows[0]["pid"], str(cli.pid))


@test("events: -L filters local ports in BPF, -4 drops IPv6")
def events_port_filter():
    with SingleNs() as ns, Tracer("--events", "--csv", "-L", "7105", "-4") as tr:
        for host, port in (("127.0.0.1", 7105), ("127.0.0.1", 7106), ("::1", 7105)):
            srv = peer(ns, ns.ns, "server", host, port, "--then", "eof")
            wait_peer(peer(ns, ns.ns, "client", host, port))
            wait_peer(srv)
            ns.settle(port)
        tr.stop()
        inode = netns_inode(ns.ns)
    rows = [r for r in tr.rows() if r["netns"] == inode]
    assert rows, "no rows"
    assert all(r["lport"] == "7105" and r["family"] == "ipv4" for r in rows), rows
    assert_eq("transitions", [(r["oldstate"], r["newstate"]) for r in rows][:1],
              [("CLOSE", "LISTEN")])


@test("events: output reaches a pipe while tracing runs")
def events_piped_live():
    with SingleNs() as ns:
        p = subprocess.Popen(f"{TCPPHASE} --events --csv -L 7107 | cat", shell=True,
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
        try:
            header = p.stdout.readline()
            assert_eq("header", header.strip(), EVENT_COLUMNS)
            srv = peer(ns, ns.ns, "server", "127.0.0.1", 7107, "--then", "eof")
            wait_peer(peer(ns, ns.ns, "client", "127.0.0.1", 7107))
            wait_peer(srv)
            # the line comes while tcpphase still runs: it is stopped only after
            line = p.stdout.readline()
            assert "LISTEN" in line, line
        finally:
            os.killpg(p.pid, signal.SIGINT)
            p.wait(timeout=10)


@test("events: -p follows one process's sockets, softirq changes included")
def events_pid_filter():
    with SingleNs() as ns:
        srv = peer(ns, ns.ns, "server", "127.0.0.1", 7108, "--then", "eof")
        srv2 = peer(ns, ns.ns, "server", "127.0.0.1", 7109, "--then", "eof")
        go = f"/tmp/tcpphase-test-go-{os.getpid()}"
        mine = peer(ns, ns.ns, "client", "127.0.0.1", 7108, "--wait", go)
        other = peer(ns, ns.ns, "client", "127.0.0.1", 7109, "--wait", go)
        try:
            with Tracer("--events", "--csv", "-p", str(mine.pid)) as tr:
                open(go, "w").close()  # connect only once tracing
                for p in (mine, other, srv, srv2):
                    wait_peer(p)
                ns.settle(7108)
                ns.settle(7109)
                tr.stop()
        finally:
            os.unlink(go)
            inode = netns_inode(ns.ns)
    rows = [r for r in tr.rows() if r["netns"] == inode]
    assert_eq("transitions", [(r["oldstate"], r["newstate"]) for r in rows], ACTIVE_CLOSE)
    assert all(r["rport"] == "7108" for r in rows), rows
