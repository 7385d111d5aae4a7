/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcpphase.h - the ABI between tcpphase's BPF programs and user space.
 *
 * The BPF side reports raw kernel facts (a state change, a request or
 * TIME_WAIT timer armed, fired or cancelled, an accept()) as fixed-size
 * records, one by one on a ring buffer or gathered per socket (EV_AGG) on
 * per-CPU rings; user space joins them into per-connection lifecycles.
 * Everything that crosses is here:
 *  - the ring buffer 'events': struct event, and struct ring_wakeup (told
 *    apart by length);
 *  - the per-CPU rings agg_ring/agg_ring_pos (mmap'ed): struct agg_ring_rec;
 *  - read at exit: sock_slots (struct sock_slot), req_waits (struct req_wait);
 *  - the test-run programs' outputs: struct tw_probe, struct clock_probe;
 *  - the counters (enum counter_idx) and gauges (GAUGE_SLOTS) arrays.
 * The settings user space writes before load are in config.bpf.h.
 * Only constants and fixed-width structs here, no includes: both vmlinux.h
 * and <linux/types.h> users must be able to include it.
 */
#ifndef __TCPPHASE_H
#define __TCPPHASE_H

#define TASK_COMM_LEN 16
#define MAX_PORTS 16
#define MAX_CGROUPS 8 /* --cgroup given at most this often */

/* What an event reports; 'id' in struct event names the kernel object. */
enum event_type {
	EV_STATE = 1, /* inet_sock_set_state on a TCP full socket; id = sk */
	EV_ACCEPT, /* accept() handed socket id to pid */
	EV_REQ_START, /* request sock timer armed (SYN arrival, or re-arm); id = req */
	EV_REQ_EXPIRE, /* request sock timer fired (SYN-ACK retransmit or drop) */
	EV_REQ_CANCEL, /* request sock timer cancelled (handshake done or req freed) */
	EV_TW_START, /* timewait timer armed or re-armed; id = tw */
	EV_TW_EXPIRE, /* timewait timer fired: the tw sock ends */
	EV_TW_CANCEL, /* timewait timer cancelled: ended early, or re-armed */
	EV_TW_PROBE, /* user space only: a tw sock read on demand (probe_tw) */
	EV_END, /* user space only: tracing stopped at ts_ns (ends a recording) */
	EV_RST, /* a TCP reset sent or received: see below */
	EV_TYPE_MAX,
};

/* struct event.flags */
#define EVF_PROC_CTX 0x01 /* pid/comm are those of the task that caused the event */
/* 0x02: none (was a flag no reader used; a recording may still hold it, ignored) */
#define EVF_CONNECTING 0x04 /* TW_CANCEL from inside a connect() on the same tuple */
#define EVF_SYNCOOKIE 0x08 /* REQ_*: the request sock is a syncookie one */
#define EVF_FASTOPEN 0x10 /* STATE: the socket was opened by TCP Fast Open */
#define EVF_FIRST_ARM 0x20 /* TW_START: the tw sock's first arming, not a re-arm */

/* Kernel TCP states (include/net/tcp_states.h), stable UAPI-like values. */
enum tcp_state_num {
	TS_ESTABLISHED = 1,
	TS_SYN_SENT,
	TS_SYN_RECV,
	TS_FIN_WAIT1,
	TS_FIN_WAIT2,
	TS_TIME_WAIT,
	TS_CLOSE,
	TS_CLOSE_WAIT,
	TS_LAST_ACK,
	TS_LISTEN,
	TS_CLOSING,
	TS_NEW_SYN_RECV,
	TS_MAX_STATES,
};

/*
 * One ring-buffer record, 128 bytes. Addresses are in network byte order
 * (IPv4 in the first 4 bytes), ports in host byte order. Times are
 * bpf_ktime_get_ns() (CLOCK_MONOTONIC) in ns.
 *
 * EV_STATE:  oldstate/newstate; err = sk_err at the change; tx/rx bytes,
 *            retrans, srtt_us read from the socket; aux = the tw sock
 *            that took over this socket (-> CLOSE only, 0 if none).
 * EV_TW_*:   newstate = tw_substate; aux = timer expiry as a ktime in ns.
 * EV_REQ_*:  retrans = req->num_retrans; aux = listener sk.
 * EV_ACCEPT: pid/comm of the accepting task.
 * cgroup:    EV_STATE (EV_AGG: read at the socket's first step) and the
 *            tw start sent with a socket; 0 elsewhere (a tw or request
 *            sock has none: user space takes its socket's or listener's).
 */
struct event {
	__u64 ts_ns;
	__u64 id;
	__u64 aux;
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u32 pid;
	__u32 netns;
	__u32 retrans;
	__u32 srtt_us;
	__u16 sport;
	__u16 dport;
	__u8 type;
	__u8 family;
	__u8 oldstate;
	__u8 newstate;
	__u8 err;
	__u8 flags;
	/* recording format 2 may hold the CPU here (descriptor bit 15): skipped */
	__u8 pad[2];
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[TASK_COMM_LEN];
	__u64 cgroup; /* cgroup v2 id (kernfs id) the socket was created in, 0 if unknown */
};

/*
 * EV_RST (tcp:tcp_send_reset, tcp:tcp_receive_reset): id = the socket that
 * sent or received it (0: none, an RST for a closed port), oldstate = its
 * state then (TIME_WAIT: a tw sock, NEW_SYN_RECV: a request sock, CLOSE: a
 * full socket just closed, 0: none), newstate = RST_SENT or RST_RECEIVED,
 * retrans = the kernel's enum sk_rst_reason, RST_REASON_NONE where it gives
 * none (a received reset, a kernel without the field). Tuple as our side
 * sees it (saddr/sport ours), read from the socket or the packet.
 */
#define RST_SENT 1
#define RST_RECEIVED 2
#define RST_REASON_NONE 0xffffffffU

/*
 * A record type of the per-CPU rings only (struct agg_ring_rec; never on
 * the ring buffer, never in a recording): one socket's transitions
 * gathered in the kernel and handed over at once, so that one record per
 * endpoint, not one per transition, crosses to user space.
 */
#define EV_AGG 0x40
#define AGG_STEPS 8
#define AGG_STEPS_MOST 5 /* what a socket that opens and closes takes */

/* One transition of an aggregated socket. flags: EVF_* of that transition. */
struct agg_step {
	__u64 ts_ns;
	__u32 retrans; /* total_retrans at the change */
	__u8 oldstate;
	__u8 newstate;
	__u8 err; /* sk_err at the change */
	__u8 flags;
};

/*
 * EV_AGG: head is an EV_STATE-like record of the last step (type EV_AGG,
 * tuple, counters, owner pid/comm from the first process-context step,
 * aux = the tw sock when the last step is -> CLOSE). What other hooks
 * learnt of the socket rides along: the request sock it was made from
 * (req != 0), its accept() (accept_ns != 0), the tw sock that took over
 * (head.aux != 0). User space expands it into the events it stands for.
 */
struct agg_event {
	/* what every state change reads and writes, first: see struct sock_slot */
	__u8 n_steps;
	__u8 owner_step; /* the step whose task owns the socket, 0xff if none */
	__u8 req_flags; /* EVF_SYNCOOKIE */
	__u8 tw_substate;
	__u32 req_retrans;
	struct agg_step steps[AGG_STEPS];
	struct event head;
	__u64 req; /* request sock, 0 if none */
	__u64 req_syn_ns; /* its timer first armed: the SYN's arrival */
	__u64 req_listener;
	__u64 accept_ns;
	__u64 tw_start_ns;
	__u64 tw_expires_ns;
	__u32 accept_pid;
	__u32 pad;
	char accept_comm[TASK_COMM_LEN];
};

/*
 * The per-CPU rings that carry EV_AGG records, and aggregating, TIME_WAIT
 * events (in rec.head, with rec.n_steps = 0) (maps agg_ring, agg_ring_pos,
 * both mmap'ed by user space). A record at position pos of CPU c's ring is
 * agg_ring[c << agg_ring_bits | pos & mask]; it is complete once its seq
 * reads pos + 1. head is the next position to claim (BPF), tail the next
 * one to read (user space): the ring is full when head - tail reaches its
 * size. No lock, no interrupt masking: BPF's ring buffer takes a spinlock
 * with interrupts off per record, which costs ~0.4 us on some VMs.
 */
struct agg_ring_rec {
	__u64 seq;
	struct agg_event rec;
} __attribute__((aligned(64))); /* no cache line shared by two records */

struct agg_ring_pos {
	__u64 head;
	__u64 tail;
	__u64 pad[6]; /* a cache line per CPU */
};

/*
 * The ring buffer's other record: a claim that fills a per-CPU ring to a
 * quarter wakes the reader with this (the position claimed), forced, since
 * the records themselves are submitted without wakeups. Shorter than
 * struct event: user space tells it by its length and drops it.
 */
struct ring_wakeup {
	__u64 pos;
};

/*
 * A socket's aggregation slot (map sock_slots, read by user space at exit).
 * Its first cache line holds the owner, the step count and the first three
 * steps: most state changes touch that line only.
 */
struct sock_slot {
	__u64 sk; /* owner, 0 if free */
	struct agg_event rec;
} __attribute__((aligned(64)));

/*
 * Aggregation, per CPU (map req_waits, read by user space at exit): the
 * request whose timer was just cancelled here. A timer that fires is first detached, which the kernel
 * also reports as a cancel: the expiry follows at once. A cancel that is an
 * end is followed, on the same CPU and before any other state change, by
 * the child's "SYN_RECV -> ESTABLISHED", which takes the request over;
 * anything else first means the request died with no child, and it is sent
 * as REQ_START + REQ_CANCEL.
 */
struct req_wait {
	struct event ev; /* REQ_START as it would have been sent */
	__u64 cancel_ns;
	__u64 expired; /* request whose timer fired last here: its re-arm is sent */
	__u8 pending;
	__u8 sent; /* its events were sent already: the child's must be too */
	__u8 pad[6];
};

/*
 * The test-run programs' outputs, globals user space reads after each run
 * (BPF_PROG_TEST_RUN): tw_probe_out, what probe_tw read from a TIME_WAIT
 * sock (valid: it still is one); clock_probe_out, probe_clock's jiffies and
 * CLOCK_MONOTONIC read together (user space measures HZ with two).
 */
struct tw_probe {
	__u64 tw;
	__u64 expires_ns;
	__u16 sport;
	__u16 dport;
	__u8 substate;
	__u8 valid;
	__u8 pad[2];
};

struct clock_probe {
	__u64 jiffies;
	__u64 ktime_ns;
};

/*
 * The state gauges (map state_gauge, per CPU, summed by user space): how
 * many endpoints are in each TCP state now, as changes since the programs
 * were attached (user space adds what sock_diag showed at start). Slot =
 * the kernel's TCP state number; TIME_WAIT and an orphan's FIN_WAIT2 count
 * tw socks, SYN_RECV request socks.
 */
#define GAUGE_SLOTS 16

/* Loss counters, one slot each in the per-CPU 'counters' array. */
enum counter_idx {
	CNT_RB_DROPS, /* ring buffer reservation failed: event lost */
	CNT_RESCUED, /* events the rescue program handled for a skipped primary */
	CNT_SCRATCH_FULL, /* a per-task/per-socket helper map was full */
	CNT_AGG_FULL, /* no free slot to aggregate a socket: sent per transition */
	CNT_GAUGE_FULL, /* a tw sock not counted in the state gauges (tw_gauge full) */
	CNT_LISTEN_FULL, /* a listening port not followed (listen_stats full) */
	CNT_MAX,
};

/*
 * The listener view (--listeners): what each listening port of a network
 * namespace went through, in the hash map listen_stats (bpf/listeners.bpf.h),
 * read by user space at each interval. Queue lengths are histograms: one
 * bucket per length below LQ_LINEAR, then one per power of two.
 */
#define LQ_LINEAR 32
#define LQ_BUCKETS 44

/* The bucket of accept queue length q: q itself below LQ_LINEAR, then its log2. */
static inline __u32 lq_bucket(__u32 q)
{
	__u32 l = 0;

	if (q < LQ_LINEAR)
		return q;
	if (q >= 1U << 16) {
		l += 16;
		q >>= 16;
	}
	if (q >= 1U << 8) {
		l += 8;
		q >>= 8;
	}
	if (q >= 1U << 4) {
		l += 4;
		q >>= 4;
	}
	if (q >= 1U << 2) {
		l += 2;
		q >>= 2;
	}
	if (q >= 1U << 1)
		l += 1;
	/* 32..63 -> LQ_LINEAR, 64..127 -> LQ_LINEAR + 1, ... */
	l = LQ_LINEAR + l - 5;
	return l < LQ_BUCKETS ? l : LQ_BUCKETS - 1;
}

struct listen_key {
	__u32 netns;
	__u16 port;
	__u16 pad;
};

struct listen_stats {
	__u64 sk; /* the listening socket last seen on the port, 0 once closed */
	__u64 inode; /* its socket inode: user space names its owner */
	__u32 backlog; /* its accept queue limit (sk_max_ack_backlog) */
	__u16 family;
	__u8 addr[16];
	__u64 syns; /* SYNs that reached it (with the SYN hook; else requests) */
	__u64 requests; /* request socks made: SYN-ACK sent */
	__u64 synack_rtx; /* SYN-ACKs retransmitted */
	__u64 completed; /* handshakes completed: a child queued */
	__u64 accepts; /* children accept()ed */
	__u64 overflow_syn; /* SYNs dropped: accept queue full */
	__u64 overflow_ack; /* final ACKs dropped: accept queue full */
	__u64 synq_drops; /* SYNs dropped: SYN queue full and no syncookies */
	__u64 syncookies; /* SYNs answered with a syncookie (SYN queue full) */
	__u32 qmax_syn; /* the longest accept queue a SYN found */
	__u32 qmax_accept; /* the longest accept queue an accept() left */
	__u64 qsum_syn, qsum_accept; /* the sums of the lengths below */
	__u64 qsyn[LQ_BUCKETS]; /* accept queue length at each SYN */
	__u64 qaccept[LQ_BUCKETS]; /* accept queue length after each accept() */
};

#endif /* __TCPPHASE_H */
