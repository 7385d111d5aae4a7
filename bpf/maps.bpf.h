/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maps.bpf.h - every map, with what owns its entries and how long they live.
 */
#ifndef __MAPS_BPF_H
#define __MAPS_BPF_H

/* The ring buffer's bytes: ~130k records (struct event) between two polls. */
#define EVENTS_RB_BYTES (16 << 20)

/* Single events (struct event) and the per-CPU rings' wake-ups (struct ring_wakeup). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RB_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Records submitted on this CPU, to sample the ring buffer's fill level. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} submits SEC(".maps");

/*
 * The state changes set_state handled last on this CPU, for
 * set_state_rescue. More than one: a rescue interrupted before it looks
 * must still find its event's token after the softirq's own pair of runs.
 */
#define TOKENS 4

struct token {
	__u64 obj;
	__u32 what;
};

struct tokens {
	struct token t[TOKENS];
	__u32 next;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tokens);
} tokens SEC(".maps");

/*
 * The TIME_WAIT sock armed last on this CPU. tcp_time_wait() arms the tw
 * timer and then closes the full socket on the same CPU, so the next
 * "-> CLOSE" with the same tuple is the socket the tw sock replaces.
 */
struct tw_link {
	__u64 tw;
	__u32 netns;
	__u16 sport;
	__u16 dport;
	__u64 start_ns; /* aggregation: what its TW_START event would say */
	__u64 expires_ns;
	__u8 substate;
};

/* The socket whose connect() ran last on this CPU, to spot TIME_WAIT reuse. */
struct connect_ctx {
	__u64 sk;
	__u64 pid_tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_link);
} last_tw SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct connect_ctx);
} last_connect SEC(".maps");

/* Where EV_AGG records go: a lock-free ring per CPU (see tcpphase.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* CPUs << agg_ring_bits, set by user space */
	__type(key, __u32);
	__type(value, struct agg_ring_rec);
} agg_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* CPUs, set by user space */
	__type(key, __u32);
	__type(value, struct agg_ring_pos);
} agg_ring_pos SEC(".maps");

/*
 * Aggregation: a socket's transitions are gathered in a slot of this array
 * and cross the ring buffer once, at "-> CLOSE". Slots are claimed with a
 * compare-and-swap on 'sk' (no locks: a map update would take a spinlock
 * with interrupts off on every transition); a socket that finds no free
 * slot is sent per transition instead, and counted. User space reads what
 * is left in the slots when tracing stops.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* 1 << slot_bits, set by user space */
	__type(key, __u32);
	__type(value, struct sock_slot);
} sock_slots SEC(".maps");

/*
 * A request sock, from its timer's first arming (the SYN) until its child
 * takes it over. A request without a slot has its events sent as they come:
 * one that needed a SYN-ACK retransmit, that recycles a TIME_WAIT, or that
 * found the slots full.
 */
struct req_slot {
	__u64 req; /* owner, 0 if free */
	__u64 syn_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* 1 << slot_bits, set by user space */
	__type(key, __u32);
	__type(value, struct req_slot);
} req_slots SEC(".maps");

/* The request cancelled last on this CPU, until its child takes it (tcpphase.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct req_wait);
} req_waits SEC(".maps");

/* The TIME_WAIT timer cancelled last on this CPU: a start right after it is a re-arm. */
struct tw_cancel {
	__u64 tw;
	__u64 ts_ns;
	__u32 netns;
	__u16 sport;
	__u16 dport;
};

/*
 * A re-arm's start follows its cancel in the same mod_timer call: seen 4-70
 * us apart on a busy VM (the timer may move to this CPU's base in between).
 */
#define REARM_NS 1000000

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_cancel);
} last_tw_cancel SEC(".maps");

/* With -p: the sockets that belong to target_pid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} pid_socks SEC(".maps");

/* The netns this CPU read last: see netns_inum(). */
struct netns_memo {
	__u64 net;
	__u64 cookie;
	__u32 inum;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netns_memo);
} netns_memos SEC(".maps");

/* One u64 per CPU, to turn a pointer into a number (slot_hash). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} scratch SEC(".maps");

/*
 * The state gauges (with --metrics or --summary): one count per TCP state
 * per CPU, moved by the state hook and the timer hooks (gauges.bpf.h);
 * user space sums and reads them. Lives as long as tracing.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GAUGE_SLOTS);
	__type(key, __u32);
	__type(value, __s64);
} state_gauge SEC(".maps");

/*
 * Each tw sock counted in the gauges, with the substate it was counted
 * under (an orphan's FIN_WAIT2 or TIME_WAIT): an entry from its timer's
 * first arming to its end (gauges.bpf.h). Full: counted (CNT_GAUGE_FULL).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* memory as used: sized by user space */
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u8);
} tw_gauge SEC(".maps");

/*
 * The listener view (--listeners): one entry per listening port of a
 * netns, made at the port's first request sock (or when it starts to
 * listen), never deleted; user space reads them. Sized by user space.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct listen_key);
	__type(value, struct listen_stats);
} listen_stats SEC(".maps");

/* All zero, never written: the template of a new listen_stats entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct listen_stats);
} listen_zero SEC(".maps");

/*
 * The request sock made last on this CPU: a SYN that made one is consumed
 * right after, in the same softirq, so a SYN that finds another here made
 * none (dropped, or answered with a syncookie).
 */
struct last_request {
	__u32 netns;
	__u16 lport;
	__u16 rport;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_request);
} last_request SEC(".maps");

#endif /* __MAPS_BPF_H */
