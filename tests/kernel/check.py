#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# check.py - check one kernel-matrix guest's console (scripts/kernel-matrix.sh)
#
# usage: check.py CONSOLE [RELEASE]
#
# CONSOLE holds what tests/kernel/init printed: markers, then the workload's
# measurements and the output of `tcpphase --csv` and `tcpphase -e --csv`
# between "=== KMATRIX BEGIN name" / "=== KMATRIX END name" lines. Every
# problem found is printed, one a line, the most telling first; the status
# is 0 when there is none.
import csv
import io
import re
import sys

HANDSHAKE_MAX_US = 500_000  # a loopback handshake, even under TCG
SLACK_US = 20_000  # between the workload's clock readings and the tracer's
TIMEOUT_MIN_US, TIMEOUT_MAX_US = 2_500_000, 4_500_000  # tcp_syn_retries=1: ~3 s
TW_REUSE_MIN_US = 1_000_000  # tcp_tw_reuse waits a second at least


def sections(text):
    """The console's marker lines and its sections, by name."""
    lines = text.replace("\r", "").split("\n")
    marks, secs, cur = [], {}, None
    for line in lines:
        # the console's escape sequences may come before a marker
        at = line.find("=== KMATRIX ")
        if at > 0:
            line = line[at:]
        m = re.match(r"=== KMATRIX (BEGIN|END) (\S+)$", line)
        if m and m.group(1) == "BEGIN":
            cur = m.group(2)
            secs[cur] = []
        elif m:
            cur = None
        elif cur is not None:
            secs[cur].append(line)
        elif line.startswith("=== KMATRIX "):
            marks.append(line[len("=== KMATRIX "):])
    return marks, secs


def workload_lines(lines):
    """The workload's lines as dicts of their key=value words."""
    out = []
    for line in lines:
        words = line.split()
        if len(words) < 2 or words[0] != "wl":
            continue
        d = {"what": words[1]}
        for w in words[2:]:
            k, _, v = w.partition("=")
            d[k] = v
        out.append(d)
    return out


def num(row, col):
    """A duration column as an int, None when empty."""
    v = row.get(col, "")
    return int(v) if v != "" else None


LISTEN_COLS = ("netns", "laddr", "owner", "backlog", "syns", "requests", "handshakes",
               "accepts", "rtx", "ovf_syn", "ovf_ack", "synq_drops", "cookies", "q_syn",
               "q_accept", "accept_wait_ms")


def check_listeners(secs, wl, bad):
    """--listeners: the full listener's drops against the kernel's count where
    this kernel lets tcpphase see SYNs (consume_skb's location, 6.3+)."""
    lines = secs.get("listeners", [])
    if "listeners:" not in lines:
        bad("--listeners printed no table")
        return
    rows = {}
    for line in lines[lines.index("listeners:") + 2:]:
        f = line.split()
        if len(f) == len(LISTEN_COLS):
            rows[f[1].rsplit(":", 1)[1]] = dict(zip(LISTEN_COLS, f))
    ovf = [d for d in wl if d["what"] == "overflows"]
    full, ok = rows.get("7002"), rows.get("7001")
    if not full or not ok or not ovf:
        bad(f"--listeners: rows for ports {sorted(rows)}, overflows line {bool(ovf)}")
        return
    err = "\n".join(secs.get("listeners.err", []))
    syn_hook = "consume_skb has no location" not in err
    if full["backlog"] != "1" or int(full["handshakes"]) < 2:
        bad(f"--listeners: port 7002 {full}")
    if syn_hook and int(full["ovf_syn"]) + int(full["ovf_ack"]) != int(ovf[0]["kernel"]):
        bad(f"--listeners: {full['ovf_syn']}+{full['ovf_ack']} overflows at 7002, "
            f"the kernel counted {ovf[0]['kernel']}")
    if not syn_hook and full["ovf_syn"] != "0":
        bad("--listeners: SYN overflows counted without the SYN hook")
    if int(ok["handshakes"]) != 2 or int(ok["accepts"]) != 2:
        bad(f"--listeners: port 7001 {ok}")


def check(text, release=None):
    problems = []
    bad = problems.append
    marks, secs = sections(text)

    uname = [m.split(None, 1)[1] for m in marks if m.startswith("uname ")]
    if not uname:
        return ["the guest printed nothing (no init output on the console)"]
    if release and uname[0] != release:
        bad(f"booted {uname[0]}, not {release}")
    for f in ("/boot", "/proc/config.gz"):
        if f"config absent: {f}" not in marks:
            bad(f"{f} exists in the guest: a kernel config file may be readable")
    if "tracers started" not in marks:
        err = [line for name in ("csv.err", "events.err", "listeners.err")
               for line in secs.get(name, [])
               if line.strip()]
        diag = [line for line in secs.get("diag", []) if "libbpf" in line or "tcpphase" in line]
        return [f"tcpphase did not start: {' | '.join(err[:2]) or 'no message'}"
                + (f" (-v: {' | '.join(diag[-3:])})" if diag else "")] + problems
    if "DONE" not in marks:
        bad("the guest did not finish (no DONE marker)")
    for name in ("workload", "csv", "events", "listeners"):
        st = [m for m in marks if m.startswith(f"{name} status ")]
        if not st:
            bad(f"no {name} status")
        elif st[0] != f"{name} status 0":
            bad(f"{st[0]}")

    wl = workload_lines(secs.get("workload", []))
    for d in wl:
        if d["what"] == "error":
            bad("workload: " + " ".join(f"{k}={v}" for k, v in d.items() if k != "what"))
    done = [d for d in wl if d["what"] == "done"]
    conns = [d for d in wl if d["what"] == "connect"]
    if not done:
        bad("the workload did not finish")
    elif int(done[0]["connects"]) != len(conns):
        bad(f"workload: {done[0]['connects']} connects, {len(conns)} printed")

    # the loss line each tracer prints on exit
    for name in ("csv.err", "events.err"):
        err = "\n".join(secs.get(name, []))
        m = re.search(r"; lost (\d+) \(", err)
        if not m:
            bad(f"{name}: no loss line in tcpphase's stderr")
        elif m.group(1) != "0":
            bad(f"{name}: tcpphase lost {m.group(1)} events: "
                f"{next(line for line in err.split(chr(10)) if '; lost ' in line)}")

    check_listeners(secs, workload_lines(secs.get("listeners.workload", [])), bad)

    rows = list(csv.DictReader(io.StringIO("\n".join(secs.get("csv", [])))))
    events = list(csv.DictReader(io.StringIO("\n".join(secs.get("events", [])))))
    if not rows:
        bad("no CSV records")
    if not events:
        bad("no state-change events")

    # the -e stream: one CLOSE->SYN_SENT per connect(), one ESTABLISHED per success
    syn_sent = sum(1 for e in events if e["oldstate"] == "CLOSE" and e["newstate"] == "SYN_SENT")
    if syn_sent != len(conns):
        bad(f"-e: {syn_sent} CLOSE->SYN_SENT lines for {len(conns)} connect() calls")
    ok_conns = [d for d in conns if d["rc"] == "0"]
    est = sum(1 for e in events if e["oldstate"] == "SYN_SENT" and e["newstate"] == "ESTABLISHED")
    if est != len(ok_conns):
        bad(f"-e: {est} SYN_SENT->ESTABLISHED lines for {len(ok_conns)} connections")

    # what the records must show at all
    for col, want in (("role", ("active", "passive")),
                      ("result", ("ok", "refused", "timeout")),
                      ("closer", ("local", "remote", "reset"))):
        seen = {r[col] for r in rows}
        for w in want:
            if w not in seen:
                bad(f"no record with {col} {w}")
    if not any(r["time_wait_us"] for r in rows):
        bad("no record with time_wait_us")
    if not any(r["tw_end"] in ("reused", "killed") for r in rows):
        bad("no TIME_WAIT whose end (reused or killed) was seen")

    # every connection: its two endpoints, where the workload says it went
    def active(d):
        return [r for r in rows if r["role"] == "active" and r["rport"] == d["rport"]
                and r["lport"] == d["lport"] and r["family"] == d["family"]]

    def passive(d):
        return [r for r in rows if r["role"] == "passive" and r["lport"] == d["rport"]
                and r["rport"] == d["lport"] and r["family"] == d["family"]]

    gaps = {(d["case"], d["lport"]): int(d["us"]) for d in wl if d["what"] == "gap"}
    gaps_lo = {(d["case"], d["lport"]): int(d.get("lo", d["us"])) for d in wl
               if d["what"] == "gap"}
    expected_rows = 0
    for d in conns:
        tag = f"{d['case']} :{d['lport']}->{d['rport']}"
        us = int(d["us"])
        if d["rc"] != "0":
            expected_rows += 1
            want = {"ECONNREFUSED": "refused", "ETIMEDOUT": "timeout"}.get(d["rc"])
            a = [r for r in rows if r["role"] == "active" and r["rport"] == d["rport"]
                 and r["result"] == want]
            if want is None:
                bad(f"{tag}: connect() failed with {d['rc']}")
            elif len(a) != 1:
                bad(f"{tag}: {len(a)} active records with result {want}, not 1")
            elif want == "timeout":
                hs = num(a[0], "handshake_us")
                if hs is None or not TIMEOUT_MIN_US <= hs <= TIMEOUT_MAX_US \
                        or abs(hs - us) > 300_000:
                    bad(f"{tag}: timeout handshake_us {hs}, connect() took {us} us")
            else:
                hs = num(a[0], "handshake_us")
                if hs is None or hs > HANDSHAKE_MAX_US:
                    bad(f"{tag}: refused handshake_us {hs}")
            continue
        expected_rows += 2
        a, p = active(d), passive(d)
        if d["case"] in ("tw_first", "tw_reuse"):  # both from the same port
            a = [r for r in a if (r["tw_end"] == "reused") == (d["case"] == "tw_first")]
            p = p[:1] if d["case"] == "tw_first" else p[1:]
        if len(a) != 1 or len(p) != 1:
            bad(f"{tag}: {len(a)} active and {len(p)} passive records, not 1 and 1")
            continue
        a, p = a[0], p[0]
        for side, r in (("active", a), ("passive", p)):
            hs = num(r, "handshake_us")
            if r["result"] != "ok" or hs is None or hs > HANDSHAKE_MAX_US:
                bad(f"{tag}: {side} result {r['result']!r} handshake_us {hs}")
        hs = num(a, "handshake_us")
        if hs is not None and hs > us + SLACK_US:
            bad(f"{tag}: active handshake_us {hs} but connect() took {us} us")
        gap = gaps.get((d["case"], d["lport"]))
        if d["case"] in ("client_first", "tw_first", "server_first"):
            first, second = (a, p) if d["case"] != "server_first" else (p, a)
            if first["closer"] != "local" or second["closer"] != "remote":
                bad(f"{tag}: closers {first['closer']}/{second['closer']}, not local/remote")
            fin = (num(first, "fin_wait1_us") or 0) + (num(first, "fin_wait2_us") or 0)
            cw = num(second, "close_wait_us")
            hi = (gap or 0) + SLACK_US
            # CLOSE_WAIT is timed by the state hook: it lies between the
            # workload's gaps without and with the two close() calls (a slow
            # guest can spend tens of ms inside a close()). The first closer's FIN_WAIT2 ends with a flip read from
            # the tw timer's expiry in jiffies, which a TCG guest on a busy
            # host lets lag its monotonic clock (66 ms seen): only plausible.
            lo_cw = max(gaps_lo.get((d["case"], d["lport"]), 0) - SLACK_US, 0)
            if first["fin_wait1_us"] == "" or not (gap or 0) // 3 <= fin <= hi:
                bad(f"{tag}: first closer fin_wait1_us+fin_wait2_us {fin}, gap {gap} us")
            if cw is None or not lo_cw <= cw <= hi:
                bad(f"{tag}: second closer close_wait_us {cw}, gap {gap} us")
            if num(second, "last_ack_us") is None or num(second, "last_ack_us") > hi:
                bad(f"{tag}: second closer last_ack_us {second['last_ack_us']!r}")
            if second["tw_end"] != "none" or first["tw_end"] in ("", "none"):
                bad(f"{tag}: tw_end {first['tw_end']}/{second['tw_end']}")
        elif d["case"] == "reset":
            if a["closer"] != "reset" or p["closer"] != "reset":
                bad(f"{tag}: closers {a['closer']}/{p['closer']}, not reset/reset")
        if d["case"] == "tw_first":
            tw = num(a, "time_wait_us")
            twgap = [int(x["us"]) for x in wl if x["what"] == "twgap"]
            if a["tw_end"] != "reused":
                bad(f"{tag}: tw_end {a['tw_end']!r}, not reused")
            elif tw is None or not twgap or not TW_REUSE_MIN_US <= tw <= twgap[0] + SLACK_US:
                bad(f"{tag}: time_wait_us {tw}, reused {twgap} us after the close")
        for side, r in (("active", a), ("passive", p)):
            if r["partial"] != "0" and r["tw_end"] != "in_progress":
                bad(f"{tag}: {side} record partial")
    if len(rows) != expected_rows:
        bad(f"{len(rows)} CSV records for {expected_rows} endpoints")
    return problems


def main():
    if len(sys.argv) not in (2, 3):
        print("usage: check.py CONSOLE [RELEASE]", file=sys.stderr)
        return 2
    with open(sys.argv[1], errors="replace") as f:
        text = f.read()
    problems = check(text, sys.argv[2] if len(sys.argv) == 3 else None)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
