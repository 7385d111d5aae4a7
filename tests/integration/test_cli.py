"""Bad input: a one-line error naming the problem and the right exit status."""

import os
import subprocess

from harness import TCPPHASE, assert_eq, test

BAD = [
    (["-L", "0"], "bad port '0'"),
    (["-L", "65536"], "bad port '65536'"),
    (["-L", "80,abc"], "bad port 'abc'"),
    (["-L", "90-80"], "bad port range"),
    (["-L", "1-100"], "too many ports"),
    (["-D", ""], "empty port list"),
    (["-p", "-5"], "-p:"),
    (["-p", "12x"], "-p:"),
    (["-d", "-1"], "-d:"),
    (["-d", "abc"], "-d:"),
    (["-i", "0"], "-i:"),
    (["--by", "bogus"], "--by:"),
    (["--max-conns", "1"], "--max-conns:"),
    (["--metrics", "nonsense"], "--metrics:"),
    (["--by", "workloads"], "--by: 'workloads' is not"),
    (["--metrics-by", "workload"], "--metrics-by needs --metrics"),
    (["--metrics", ":0", "--metrics-by", "cgroup"], "--metrics-by: 'cgroup' is not workload"),
    (["--metrics", ":0", "--metrics-by", "workload", "--metrics-top", "0"], "--metrics-top:"),
    (["--metrics", ":0", "--metrics-by", "workload", "--metrics-top", "51"], "--metrics-top:"),
    (["--metrics", ":0", "--metrics-top", "3"], "--metrics-top needs --metrics-by"),
    (["--bogus"], "unknown option '--bogus'"),
    (["-x"], "unknown option '-x'"),
    (["-4", "-6"], "exclusive"),
    (["-e", "--summary"], "exclusive"),
    (["--csv", "--json"], "exclusive"),
    (["stray"], "unexpected argument 'stray'"),
    (["-L"], "lacks its value"),
]


def run(args, **kw):
    return subprocess.run([TCPPHASE, *args], capture_output=True, text=True, timeout=20, **kw)


@test("cli: every bad value gets one line on stderr and status 2")
def cli_bad_values():
    for args, want in BAD:
        r = run(args)
        assert_eq(f"status of {args}", r.returncode, 2)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, f"{args}: {r.stderr!r}"
        assert want in lines[0] and lines[0].startswith("tcpphase: "), f"{args}: {lines[0]}"
        assert r.stdout == "", f"{args}: stdout {r.stdout!r}"


@test("cli: -h, --help and -V")
def cli_help_version():
    for flag in ("-h", "--help"):
        r = run([flag])
        assert_eq(flag, r.returncode, 0)
        assert "EXAMPLES" in r.stdout and "--csv" in r.stdout, r.stdout
    r = run(["-V"])
    assert_eq("-V", r.returncode, 0)
    assert r.stdout.startswith("tcpphase "), r.stdout


@test("cli: without privileges, one line and status 1")
def cli_unprivileged():
    r = run([], preexec_fn=lambda: (os.setgroups([]), os.setgid(65534), os.setuid(65534)))
    assert_eq("status", r.returncode, 1)
    assert_eq("stderr", r.stderr.strip(),
              "tcpphase: permission denied: run as root or with CAP_BPF and CAP_PERFMON")


@test("cli: unwritable -W path and unreadable -r file")
def cli_files():
    r = run(["-W", "/proc/nonexistent/x", "-d", "1"])
    assert_eq("-W status", r.returncode, 1)
    assert r.stderr.startswith("tcpphase: -W") and len(r.stderr.strip().splitlines()) == 1, \
        r.stderr
    r = run(["-r", "/nonexistent"])
    assert_eq("-r status", r.returncode, 1)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    with open("/tmp/tcpphase-junk.tpp", "wb") as f:
        f.write(b"not a recording at all")
    r = run(["-r", "/tmp/tcpphase-junk.tpp"])
    os.unlink("/tmp/tcpphase-junk.tpp")
    assert_eq("junk status", r.returncode, 1)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@test("output: a closed pipe ends quietly with 0, a full disk with one line and 1")
def output_errors():
    # the reader goes away at once: tcpphase must notice on its next flush
    r = subprocess.run(["bash", "-c", f"{TCPPHASE} -e --csv -d 5 | true; "
                        "echo ${PIPESTATUS[0]}"], capture_output=True, text=True, timeout=20)
    assert_eq("status after EPIPE", r.stdout.strip(), "0")
    assert "write error" not in r.stderr, r.stderr
    with open("/dev/full", "w") as full:
        r = subprocess.run([TCPPHASE, "-e", "--csv", "-d", "5"], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=20)
    assert_eq("status on ENOSPC", r.returncode, 1)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], r.stderr


@test("privilege: runs as an unprivileged user with CAP_BPF and CAP_PERFMON only")
def capabilities_only():
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=+bpf,+perfmon", "--ambient-caps=+bpf,+perfmon",
                        TCPPHASE, "-e", "--csv", "-d", "1"],
                       capture_output=True, text=True, timeout=30)
    assert_eq("status", r.returncode, 0)
    assert r.stdout.startswith("time,pid,comm"), r.stdout + r.stderr
