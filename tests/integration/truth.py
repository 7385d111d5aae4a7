"""truth - what really happened, to check tcpphase's times against.

Timing tests never compare with a nominal delay: on a busy machine the
delay line forwards late and the peers run late. They compare with two
witnesses that share tcpphase's clock (CLOCK_MONOTONIC, bpf_ktime_get_ns):

- the delay line's packet log (netlab.Lab.packets()): when each packet left
  its sender (read) and when it was delivered (wr0..wr1; a TUN write runs the
  receiving stack before it returns);
- the peers' stamps (peer.py, "@NAME T0 T1" around each call).

A kernel event happens after the witnesses that cause it and before those
that follow from it, so each duration tcpphase measures lies in a range:
at least (earliest possible end - latest possible start), at most (latest
possible end - earliest possible start). check() asserts that, with SLACK
for where the clocks are read, and JIFFY more for the times tcpphase derives
from a timer's expiry in jiffies.
"""

SLACK_MS = 0.5
JIFFY_MS = 4.0  # HZ=250, the value of this machine's and Debian's kernels


def stamps(out):
    """peer.py's stamps: {name: (t0_ms, t1_ms)}, the first of each name."""
    got = {}
    for line in out.splitlines():
        if line.startswith("@"):
            name, t0, t1 = line[1:].split()
            got.setdefault(name, (int(t0) / 1e6, int(t1) / 1e6))
    return got


def check(what, value_ms, lo_ms, hi_ms, slack=SLACK_MS):
    """value_ms lies within [lo_ms, hi_ms], give or take slack."""
    if value_ms is None or not (lo_ms - slack <= value_ms <= hi_ms + slack):
        raise AssertionError(f"{what} = {value_ms}, but what happened puts it within "
                             f"{lo_ms:.3f}..{hi_ms:.3f} (+-{slack})")


class Wire:
    """The TCP packets of one connection, by the client's port when given."""

    def __init__(self, packets, port, client_port=None):
        self.pkts = [p for p in packets if p.proto == 6 and port in (p.sport, p.dport)
                     and (client_port is None or client_port in (p.sport, p.dport))]

    def first(self, d, has, no="", after=None):
        """The first packet in direction d ("ab"/"ba") with every flag in has and
        none in no, read at or after time after (ms)."""
        for p in self.pkts:
            if (p.dir == d and all(f in p.flags for f in has)
                    and not any(f in p.flags for f in no)
                    and (after is None or p.read >= after)):
                return p
        raise AssertionError(f"no {d} packet with {has!r} (not {no!r}) after {after}: "
                             f"{self.pkts}")

    def syn(self):
        return self.first("ab", "S", "A")

    def synack(self):
        return self.first("ba", "SA")

    def handshake_ack(self):
        """The client's ACK of the SYN-ACK, the passive handshake's end."""
        return self.first("ab", "A", "SR", after=self.synack().wr0)


def connections(packets, port):
    """One Wire per connection to port, by the SYNs' order."""
    ports = [p.sport for p in packets if p.proto == 6 and p.dport == port and p.dir == "ab"
             and p.flags == "S"]
    return [Wire(packets, port, cp) for cp in dict.fromkeys(ports)]
