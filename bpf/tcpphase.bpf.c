// SPDX-License-Identifier: GPL-2.0
/*
 * tcpphase.bpf.c - the kernel side of tcpphase: raw facts about every TCP
 * connection's phases, from tracepoints only (no kprobes, no fentry).
 *
 *  - sock:inet_sock_set_state: every state change of a full TCP socket;
 *  - timer:timer_{start,expire_entry,cancel} on tw_timer_handler and
 *    reqsk_timer_handler: the TIME_WAIT sock and the request sock (passive
 *    handshake), which no state tracepoint shows;
 *  - syscalls:sys_exit_accept{,4} (with --accept): which task accepted a
 *    passive socket.
 *
 * The state hook comes as a pair, a primary and a rescue attached after
 * it: a run of a program that is interrupted by a softirq firing the same
 * tracepoint makes the kernel skip the nested run (a recursion miss). The
 * primary leaves a per-CPU token naming the event it handled; the rescue
 * handles the event itself when the token does not match, so one of the two
 * sees every event whichever of them was interrupted. The timer hooks cannot
 * nest in themselves and need no rescue (see TIMER_PROG).
 *
 * Aggregating (the default), a socket's transitions, and what the other
 * hooks learn of it, gather in a slot of an array map and cross to user
 * space as one record at "-> CLOSE", through a lock-free per-CPU ring, as
 * do TIME_WAIT events; only the odd request and listeners go through the
 * ring buffer.
 * Otherwise (-e, --stuck, --no-aggregate) every fact is a ring-buffer
 * record. Either way user space joins the records into lifecycles.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcpphase.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define NSEC_PER_SEC 1000000000ULL

/* Filters and addresses, set by user space before load. */
const volatile pid_t target_pid = 0;
const volatile __u16 target_family = 0;
const volatile __u16 lports[MAX_PORTS] = {};
const volatile __u32 n_lports = 0;
const volatile __u16 rports[MAX_PORTS] = {};
const volatile __u32 n_rports = 0;
const volatile __u64 tw_timer_fn = 0;
const volatile __u64 req_timer_fn = 0;
/*
 * Nanoseconds per jiffy, measured by user space with probe_clock after
 * load (no kernel config file is needed, and none is read).
 */
__u64 jiffy_ns = 4000000;
/* Wake the reader only once the ring buffer holds this many bytes. */
const volatile __u64 wakeup_bytes = 0;
/* Gather each socket's transitions in sock_slots (1 << slot_bits of them). */
const volatile bool aggregate = false;
const volatile __u32 slot_bits = 10;
const volatile __u32 agg_ring_bits = 9; /* records per CPU: 1 << agg_ring_bits */

/* How many slots from its hash a socket or request may land in. */
#define SLOT_PROBES 4
#define NO_STEP 0xff
#define NO_SLOT 0xffffffffU

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
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

/*
 * The inode number of a net namespace. ns.inum shares a cache line with
 * the namespace's reference count, which every socket's creation and
 * release writes: read on each state change, that line bounces between
 * CPUs. Each CPU keeps the last answer, checked by the net's cookie
 * (unique for the namespace's lifetime, on a line nobody writes), so a
 * namespace freed and reallocated at the same address is read afresh.
 */
static __always_inline bool netns_memo_check(struct netns_memo *m, __u64 net, __u64 cookie,
					     __u32 *inum)
{
	if (m->net == net && m->cookie == cookie) {
		*inum = m->inum;
		return true;
	}
	return false;
}

static __always_inline __u32 netns_memo_set(struct netns_memo *m, __u64 net, __u64 cookie,
					    __u32 inum)
{
	m->net = net;
	m->cookie = cookie;
	m->inum = inum;
	return inum;
}

/* From a trusted net pointer (a tp_btf socket's): plain loads. */
static __always_inline __u32 netns_inum(const struct net *net)
{
	__u32 zero = 0, inum;
	struct netns_memo *m = bpf_map_lookup_elem(&netns_memos, &zero);
	__u64 cookie = net->net_cookie;

	if (!m)
		return net->ns.inum;
	if (netns_memo_check(m, (__u64)net, cookie, &inum))
		return inum;
	return netns_memo_set(m, (__u64)net, cookie, net->ns.inum);
}

/* The same from a pointer read out of a tw or request sock. */
static __always_inline __u32 netns_inum_probed(const struct net *net)
{
	__u32 zero = 0, inum;
	struct netns_memo *m = bpf_map_lookup_elem(&netns_memos, &zero);
	__u64 cookie = BPF_CORE_READ(net, net_cookie);

	if (!m)
		return BPF_CORE_READ(net, ns.inum);
	if (netns_memo_check(m, (__u64)net, cookie, &inum))
		return inum;
	return netns_memo_set(m, (__u64)net, cookie, BPF_CORE_READ(net, ns.inum));
}

static __always_inline void count_n(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += n;
}

static __always_inline void count(__u32 idx)
{
	count_n(idx, 1);
}

/* Primary: record that this CPU handled event (obj, what). */
static __always_inline void token_set(__u64 obj, __u32 what)
{
	__u32 zero = 0;
	struct tokens *r = bpf_map_lookup_elem(&tokens, &zero);

	if (r) {
		struct token *t = &r->t[r->next & (TOKENS - 1)];

		t->obj = obj;
		t->what = what;
		r->next++;
	}
}

/*
 * Rescue: true when the primary already handled event (obj, what). The
 * token is consumed: a socket freed and reallocated at the same address on
 * this CPU can repeat a transition, and a stale token must not hide it.
 */
static __always_inline bool token_seen(__u64 obj, __u32 what)
{
	__u32 zero = 0;
	struct tokens *r = bpf_map_lookup_elem(&tokens, &zero);

	if (!r)
		return true;
	for (int i = 0; i < TOKENS; i++) {
		if (r->t[i].obj == obj && r->t[i].what == what) {
			r->t[i].obj = 0;
			return true;
		}
	}
	return false;
}

static __always_inline bool port_in(__u16 port, const volatile __u16 *list, __u32 n)
{
	for (int i = 0; i < MAX_PORTS; i++) {
		if (i >= n)
			break;
		if (list[i] == port)
			return true;
	}
	return false;
}

/* The port and family filters, on host-order ports. */
static __always_inline bool tuple_wanted(__u16 family, __u16 sport, __u16 dport)
{
	if (target_family && family != target_family)
		return false;
	if (n_lports && !port_in(sport, lports, n_lports))
		return false;
	if (n_rports && !port_in(dport, rports, n_rports))
		return false;
	return true;
}

/* Reserve a record; on failure count the loss. */
static __always_inline struct event *event_reserve(void)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		count(CNT_RB_DROPS);
	return e;
}

/*
 * Submit without waking the reader (it polls on a timer) unless the
 * buffer is filling up: wakeups, not BPF work, are what costs throughput.
 */
static __always_inline __u64 submit_flags(void)
{
	__u32 zero = 0;
	__u32 *n = bpf_map_lookup_elem(&submits, &zero);

	/* the fill level is read once per 64 submits on this CPU: it costs */
	if (n && (++*n & 63))
		return BPF_RB_NO_WAKEUP;
	if (!wakeup_bytes || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return 0;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void event_submit(struct event *e)
{
	bpf_ringbuf_submit(e, submit_flags());
}

/*
 * This CPU's ring: claim the next record, or NULL when the ring holds
 * 'room' records or more (room: at most its size). A claim is a
 * compare-and-swap on the head, so a softirq that interrupts us here claims
 * the next position.
 */
static __always_inline struct agg_ring_rec *ring_claim(__u64 *pos, __u64 room)
{
	__u32 cpu = bpf_get_smp_processor_id(), idx;
	__u64 mask = (1ULL << agg_ring_bits) - 1, at;
	struct agg_ring_pos *p = bpf_map_lookup_elem(&agg_ring_pos, &cpu);

	if (!p)
		return NULL;
	for (int i = 0; i < 4; i++) {
		at = p->head;
		if (at - p->tail >= room)
			return NULL;
		if (__sync_val_compare_and_swap(&p->head, at, at + 1) == at) {
			/* the reader polls on a timer: wake it when this ring is a quarter full */
			if (at - p->tail == (mask + 1) / 4)
				bpf_ringbuf_output(&events, &at, sizeof(at), BPF_RB_FORCE_WAKEUP);
			*pos = at;
			idx = cpu << agg_ring_bits | (at & mask);
			/* a claimed position never published is skipped by user space */
			return bpf_map_lookup_elem(&agg_ring, &idx);
		}
	}
	return NULL;
}

/*
 * Publish a claimed record: its seq, written last. On x86 stores are seen
 * in program order (and the JIT keeps ours in order), so a plain store
 * after a compiler barrier is a release; a locked exchange there would wait
 * for the record's stores to cold ring lines to complete (a quarter of the
 * state program's time in a profile). Elsewhere: a full barrier.
 */
static __always_inline void ring_publish(struct agg_ring_rec *r, __u64 pos)
{
#ifdef __TARGET_ARCH_x86
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&r->seq = pos + 1;
#else
	__sync_lock_test_and_set(&r->seq, pos + 1);
#endif
}

/* Put an EV_AGG record on this CPU's ring; a full ring drops it, counted. */
static __always_inline void agg_output(const struct agg_event *rec, __u64 lost_events)
{
	struct agg_ring_rec *r;
	__u64 pos;

	r = ring_claim(&pos, 1ULL << agg_ring_bits);
	if (!r) {
		count_n(CNT_RB_DROPS, lost_events);
		return;
	}
	/*
	 * Only the steps taken are copied: the ring's lines are cold, and each
	 * one written costs (a closed socket has five steps).
	 */
	if (rec->n_steps <= AGG_STEPS_MOST)
		__builtin_memcpy(&r->rec, rec,
				 offsetof(struct agg_event, steps) +
					 sizeof(rec->steps[0]) * AGG_STEPS_MOST);
	else
		__builtin_memcpy(&r->rec, rec, offsetof(struct agg_event, head));
	__builtin_memcpy(&r->rec.head, &rec->head, sizeof(*rec) - offsetof(struct agg_event, head));
	ring_publish(r, pos);
}

/* Copy a prepared record into the ring buffer; lost_events counted on failure. */
static __always_inline void output(void *rec, __u64 size, __u64 lost_events)
{
	if (bpf_ringbuf_output(&events, rec, size, submit_flags()))
		count_n(CNT_RB_DROPS, lost_events);
}

/*
 * What the timer hooks read of a tw or request sock's sock_common, taken in
 * one probe read: a field at a time was ~15 probe reads (a helper call
 * each) per request handled.
 */
struct skc_view {
	__u64 net;
	__u16 family;
	__u16 sport;
	__u16 dport; /* host order */
	__u8 saddr[16];
	__u8 daddr[16];
};

/* The bytes of a sock_common up to the end of its IPv6 source address. */
#define SKC_VIEW_MAX 128

#define SKC_AT(buf, type, field) \
	(*(type *)((buf) + bpf_core_field_offset(struct sock_common, field)))

static __always_inline int skc_view_read(const struct sock_common *skc, struct skc_view *v)
{
	char buf[SKC_VIEW_MAX];
	__u32 end = bpf_core_field_offset(struct sock_common, skc_v6_rcv_saddr) + 16;

	if (end > sizeof(buf) || bpf_probe_read_kernel(buf, end, skc))
		return -1;
	v->net = SKC_AT(buf, __u64, skc_net);
	v->family = SKC_AT(buf, __u16, skc_family);
	v->sport = SKC_AT(buf, __u16, skc_num);
	v->dport = bpf_ntohs(SKC_AT(buf, __u16, skc_dport));
	if (v->family == AF_INET6) {
		__builtin_memcpy(v->saddr,
				 buf + bpf_core_field_offset(struct sock_common, skc_v6_rcv_saddr),
				 16);
		__builtin_memcpy(v->daddr,
				 buf + bpf_core_field_offset(struct sock_common, skc_v6_daddr), 16);
	} else {
		__builtin_memset(v->saddr, 0, sizeof(v->saddr));
		__builtin_memset(v->daddr, 0, sizeof(v->daddr));
		__builtin_memcpy(v->saddr,
				 buf + bpf_core_field_offset(struct sock_common, skc_rcv_saddr), 4);
		__builtin_memcpy(v->daddr,
				 buf + bpf_core_field_offset(struct sock_common, skc_daddr), 4);
	}
	return 0;
}

/* Fill family, netns, ports, addresses of an event from a view. */
static __always_inline void read_common(struct event *e, const struct skc_view *v, __u32 netns)
{
	e->family = v->family;
	e->netns = netns;
	e->sport = v->sport;
	e->dport = v->dport;
	__builtin_memcpy(e->saddr, v->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, v->daddr, sizeof(e->daddr));
}

static __always_inline void fill_task(struct event *e)
{
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->flags |= EVF_PROC_CTX;
}

/* Transitions that only a system call makes: the current task owns the socket. */
static __always_inline bool in_process_ctx(int oldstate, int newstate)
{
	return (oldstate == TCP_CLOSE && (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN)) ||
	       (oldstate == TCP_ESTABLISHED && newstate == TCP_FIN_WAIT1) ||
	       (oldstate == TCP_CLOSE_WAIT && newstate == TCP_LAST_ACK) ||
	       (oldstate == TCP_LISTEN && newstate == TCP_CLOSE);
}

static __always_inline __u64 jiffies_to_ktime(__u64 now_ns, unsigned long expires)
{
	__s64 delta = (__s64)(expires - (unsigned long)bpf_jiffies64());

	return now_ns + delta * (__s64)jiffy_ns;
}

/*
 * Family, netns and addresses of a full socket. tp_btf hands us a trusted
 * pointer: plain loads (CO-RE relocated), no probe-read helper calls; this
 * runs for every state change on the host.
 */
static __always_inline void read_sock(struct event *e, const struct sock *sk)
{
	const struct sock_common *skc = &sk->__sk_common;

	e->family = skc->skc_family;
	e->netns = netns_inum(skc->skc_net.net);
	if (e->family == AF_INET6) {
		__builtin_memcpy(e->saddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(e->daddr, &skc->skc_v6_daddr, 16);
	} else {
		__builtin_memset(e->saddr, 0, sizeof(e->saddr));
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
		__builtin_memcpy(e->saddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(e->daddr, &skc->skc_daddr, 4);
	}
}

/* One u64 per CPU, to turn a pointer into a number (slot_hash). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} scratch SEC(".maps");

/*
 * A kernel pointer's slot. The verifier allows no arithmetic on a socket
 * pointer, but what is read back from map memory is a plain number. The
 * number is this CPU's: a softirq that runs one of our programs between the
 * store and the load leaves its own pointer there, and the wrong slot would
 * split a socket's record in two. So the value read back counts only if it
 * is the pointer itself; else store and read again (counted).
 */
static __always_inline __u32 slot_hash(__u64 ptr)
{
	__u32 zero = 0;
	volatile __u64 *v = bpf_map_lookup_elem(&scratch, &zero);
	__u64 x;
	__u32 h;

	if (!v)
		return 0;
	for (int i = 0; i < 8; i++) {
		*v = ptr;
		x = *v;
		/* hashed before the test (the asm pins it): past the test, clang
		 * would hash the pointer itself, which the verifier refuses */
		h = ((__u32)x * 0x9E3779B1U) >> (32 - slot_bits);
		asm volatile("" : "+r"(h));
		if (x == ptr)
			return h;
		count(CNT_HASH_RETRIES);
	}
	return 0; /* interrupted eight times in a row: never seen */
}

/*
 * The socket's aggregation slot; with claim, a free one is taken for it.
 * A slot is found by its owner, in its first cache line: the line that the
 * state change then writes (see struct sock_slot). A new socket looks at all
 * SLOT_PROBES slots before it claims one: one of them may still be held
 * for the same address by a socket whose "-> CLOSE" no program saw. The
 * free slot is remembered by index: clang merges tests on a kept pointer
 * into arithmetic that the verifier refuses.
 */
static __always_inline struct sock_slot *sock_slot_get(__u64 sk, bool claim)
{
	__u32 h = slot_hash(sk), mask = (1U << slot_bits) - 1;
	__u32 free = NO_SLOT;
	struct sock_slot *s;

	for (int i = 0; i < SLOT_PROBES; i++) {
		__u32 j = (h + i) & mask;

		s = bpf_map_lookup_elem(&sock_slots, &j);
		if (!s)
			return NULL;
		if (s->sk == sk)
			return s;
		if (!s->sk && free == NO_SLOT)
			free = j;
	}
	if (!claim || free == NO_SLOT)
		return NULL;
	s = bpf_map_lookup_elem(&sock_slots, &free);
	if (!s || __sync_val_compare_and_swap(&s->sk, 0, sk))
		return NULL;
	s->rec.n_steps = 0;
	s->rec.owner_step = NO_STEP;
	s->rec.head.pid = 0;
	s->rec.head.comm[0] = 0;
	s->rec.head.aux = 0;
	s->rec.req = 0;
	s->rec.accept_ns = 0;
	return s;
}

/* The request's slot; *claimed says it was free and is now the request's. */
static __always_inline struct req_slot *req_slot_get(__u64 req, bool claim, bool *claimed)
{
	__u32 h = slot_hash(req), mask = (1U << slot_bits) - 1, free = NO_SLOT;
	struct req_slot *r;

	*claimed = false;
	for (int i = 0; i < SLOT_PROBES; i++) {
		__u32 idx = (h + i) & mask;

		r = bpf_map_lookup_elem(&req_slots, &idx);
		if (!r)
			return NULL;
		if (r->req == req)
			return r;
		if (!r->req && free == NO_SLOT)
			free = idx;
	}
	if (!claim || free == NO_SLOT)
		return NULL;
	r = bpf_map_lookup_elem(&req_slots, &free);
	if (!r || __sync_val_compare_and_swap(&r->req, 0, req))
		return NULL;
	*claimed = true;
	return r;
}

/* The socket's addresses are those of the event. */
static __always_inline bool same_addrs(const struct event *e, const struct sock *sk)
{
	const struct sock_common *skc = &sk->__sk_common;
	__u32 a[8] = {}, b[8];

	if (e->family != skc->skc_family)
		return false;
	if (e->family == AF_INET6) {
		__builtin_memcpy(a, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(a + 4, &skc->skc_v6_daddr, 16);
	} else {
		a[0] = skc->skc_rcv_saddr;
		a[4] = skc->skc_daddr;
	}
	__builtin_memcpy(b, e->saddr, 16);
	__builtin_memcpy(b + 4, e->daddr, 16);
	for (int i = 0; i < 8; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static __always_inline void req_slot_free(__u64 req)
{
	bool claimed;
	struct req_slot *r = req_slot_get(req, false, &claimed);

	if (r)
		r->req = 0;
}

/* A request that died with no child: send what its events would have said. */
static __always_inline void req_wait_send(struct req_wait *w)
{
	__u64 syn = w->ev.ts_ns;

	w->ev.type = EV_REQ_START;
	output(&w->ev, sizeof(w->ev), 2);
	w->ev.type = EV_REQ_CANCEL;
	w->ev.ts_ns = w->cancel_ns;
	output(&w->ev, sizeof(w->ev), 1);
	w->ev.ts_ns = syn;
	req_slot_free(w->ev.id);
}

/*
 * Aggregation: the request cancelled last on this CPU, when this state
 * change is its child's "SYN_RECV ->"; else it died childless and is sent.
 */
static __always_inline struct req_wait *req_wait_take(const struct sock *sk, int oldstate,
						      __u32 netns, __u16 sport, __u16 dport)
{
	__u32 zero = 0;
	struct req_wait *w = bpf_map_lookup_elem(&req_waits, &zero);

	if (!w || !w->pending)
		return NULL;
	w->pending = 0;
	if (oldstate == TCP_SYN_RECV && w->ev.netns == netns && w->ev.sport == sport &&
	    w->ev.dport == dport && same_addrs(&w->ev, sk)) {
		if (!w->sent)
			req_slot_free(w->ev.id);
		return w;
	}
	if (!w->sent)
		req_wait_send(w);
	return NULL;
}

/* The counters a record carries at the end of a phase. */
static __always_inline void read_counters(struct event *e, const struct tcp_sock *tp)
{
	e->tx_bytes = tp->bytes_acked;
	e->rx_bytes = tp->bytes_received;
	e->retrans = tp->total_retrans;
	e->srtt_us = tp->srtt_us >> 3;
}

/* Send a slot's steps as one EV_AGG record, tuple as last read, and start a new batch. */
static __always_inline void agg_send_as_is(struct sock_slot *s, const struct sock *sk)
{
	struct event *h = &s->rec.head;
	__u8 n = s->rec.n_steps;
	struct agg_step *last = &s->rec.steps[(n - 1) & (AGG_STEPS - 1)];

	h->ts_ns = last->ts_ns;
	h->type = EV_AGG;
	h->id = (__u64)sk;
	h->flags = 0;
	h->cpu = bpf_get_smp_processor_id();
	h->oldstate = last->oldstate;
	h->newstate = last->newstate;
	h->err = last->err;
	agg_output(&s->rec, n + (s->rec.req ? 1 : 0) + (s->rec.accept_ns ? 1 : 0));
	s->rec.n_steps = 0;
	s->rec.owner_step = NO_STEP;
	s->rec.head.aux = 0;
	s->rec.req = 0;
	s->rec.accept_ns = 0;
}

/* Send a slot's steps with the socket's tuple and counters as of now. */
static __always_inline void agg_send(struct sock_slot *s, const struct sock *sk,
				     const struct tcp_sock *tp, __u16 sport, __u16 dport)
{
	s->rec.head.sport = sport;
	s->rec.head.dport = dport;
	read_sock(&s->rec.head, sk);
	read_counters(&s->rec.head, tp);
	agg_send_as_is(s, sk);
}

/*
 * Add a state change to the socket's slot. The slot is sent at "-> CLOSE",
 * when full, and when a child's events must reach user space now (its
 * request's were sent as they came).
 */
static __always_inline void agg_state(struct sock_slot *s, const struct sock *sk,
				      const struct tcp_sock *tp, int oldstate, int newstate,
				      __u16 sport, __u16 dport, __u8 flags, bool proc,
				      const struct req_wait *w, const struct tw_link *l, __u64 tw)
{
	__u8 n = s->rec.n_steps;
	bool send = newstate == TCP_CLOSE;
	struct agg_step *st;

	if (n >= AGG_STEPS) {
		agg_send(s, sk, tp, sport, dport);
		n = 0;
	}
	/*
	 * A socket at this address whose "-> CLOSE" no program saw left its
	 * steps: send them as they are (user space counts the missed close)
	 * and start this socket afresh.
	 */
	if ((oldstate == TCP_CLOSE || oldstate == TCP_LISTEN) && n) {
		agg_send_as_is(s, sk);
		n = 0;
		s->rec.head.pid = 0;
	}
	st = &s->rec.steps[n & (AGG_STEPS - 1)];
	st->ts_ns = bpf_ktime_get_ns();
	st->retrans = tp->total_retrans;
	st->oldstate = oldstate;
	st->newstate = newstate;
	st->err = sk->sk_err;
	st->flags = flags;
	if (proc && !s->rec.head.pid) {
		s->rec.head.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(s->rec.head.comm, sizeof(s->rec.head.comm));
		s->rec.owner_step = n;
	}
	s->rec.n_steps = n + 1;
	/* the tuple is complete once established; user space reads it at exit */
	if (n == 0 || newstate == TCP_ESTABLISHED) {
		s->rec.head.family = sk->__sk_common.skc_family;
		s->rec.head.sport = sport;
		s->rec.head.dport = dport;
		read_sock(&s->rec.head, sk);
	}
	if (w && w->sent) {
		send = true;
	} else if (w) {
		s->rec.req = w->ev.id;
		s->rec.req_syn_ns = w->ev.ts_ns;
		s->rec.req_listener = w->ev.aux;
		s->rec.req_retrans = w->ev.retrans;
		s->rec.req_flags = w->ev.flags & EVF_SYNCOOKIE;
	}
	if (l) {
		s->rec.head.aux = tw;
		s->rec.tw_start_ns = l->start_ns;
		s->rec.tw_expires_ns = l->expires_ns;
		s->rec.tw_substate = l->substate;
	}
	if (send)
		agg_send(s, sk, tp, sport, dport);
	if (newstate == TCP_CLOSE)
		s->sk = 0;
}

/* Aggregation, socket sent per transition: the tw sock's first arming, as an event. */
static __always_inline void send_tw_start(const struct tw_link *l, __u64 tw, const struct sock *sk,
					  __u16 sport, __u16 dport)
{
	struct event *e = event_reserve();

	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = l->start_ns;
	e->type = EV_TW_START;
	e->flags = EVF_FIRST_ARM;
	e->id = tw;
	e->aux = l->expires_ns;
	e->newstate = l->substate;
	e->cpu = bpf_get_smp_processor_id();
	e->sport = sport;
	e->dport = dport;
	read_sock(e, sk);
	event_submit(e);
}

/* Aggregation, child sent per transition: its request's REQ_START, before it. */
static __always_inline void send_req_start(struct req_wait *w)
{
	w->ev.type = EV_REQ_START;
	output(&w->ev, sizeof(w->ev), 1);
}

static __always_inline int handle_set_state(const struct sock *sk, int oldstate, int newstate,
					    __u8 flags)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	bool proc = in_process_ctx(oldstate, newstate);
	struct req_wait *w = NULL;
	struct tw_link *l = NULL;
	__u16 family, sport, dport;
	struct event *e;
	__u32 zero = 0, netns;
	__u64 skp = (__u64)sk, tw = 0;

	if (!tp)
		return 0;
	family = sk->__sk_common.skc_family;
	/* at -> CLOSE skc_num is already 0: inet_sport stays right */
	sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	if (!sport)
		sport = sk->__sk_common.skc_num;
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (!tuple_wanted(family, sport, dport))
		return 0;

	if (target_pid) {
		if (proc && (bpf_get_current_pid_tgid() >> 32) == target_pid) {
			__u8 one = 1;

			if (bpf_map_update_elem(&pid_socks, &skp, &one, BPF_ANY))
				count(CNT_SCRATCH_FULL);
		} else if (!bpf_map_lookup_elem(&pid_socks, &skp)) {
			return 0;
		}
		if (newstate == TCP_CLOSE)
			bpf_map_delete_elem(&pid_socks, &skp);
	}

	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		struct connect_ctx *c = bpf_map_lookup_elem(&last_connect, &zero);

		if (c) {
			c->sk = skp;
			c->pid_tgid = bpf_get_current_pid_tgid();
		}
	}
	if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV && tp->fastopen_rsk)
		flags |= EVF_FASTOPEN;
	netns = netns_inum(sk->__sk_common.skc_net.net);
	if (newstate == TCP_CLOSE) {
		l = bpf_map_lookup_elem(&last_tw, &zero);
		if (l && l->tw && l->netns == netns && l->sport == sport && l->dport == dport) {
			tw = l->tw;
			l->tw = 0; /* claimed */
		} else {
			l = NULL;
		}
	}

	if (aggregate) {
		w = req_wait_take(sk, oldstate, netns, sport, dport);
		/* listeners are few, and their children need them known at once */
		if (newstate != TCP_LISTEN && !(oldstate == TCP_LISTEN && newstate == TCP_CLOSE)) {
			struct sock_slot *s = sock_slot_get(skp, true);

			if (s) {
				agg_state(s, sk, tp, oldstate, newstate, sport, dport, flags, proc,
					  w, l, tw);
				return 0;
			}
			count(CNT_AGG_FULL);
		}
		if (w && !w->sent)
			send_req_start(w);
		if (l)
			send_tw_start(l, tw, sk, sport, dport);
	}

	e = event_reserve();
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->type = EV_STATE;
	e->id = skp;
	e->flags = flags;
	e->cpu = bpf_get_smp_processor_id();
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->sport = sport;
	e->dport = dport;
	e->aux = tw;
	e->pid = 0;
	e->comm[0] = 0;
	e->err = sk->sk_err;
	read_sock(e, sk);
	if (proc)
		fill_task(e);

	/* Byte and retransmit counts matter when a phase ends. */
	if (newstate == TCP_CLOSE || newstate == TCP_ESTABLISHED || oldstate == TCP_ESTABLISHED) {
		read_counters(e, tp);
	} else {
		e->tx_bytes = e->rx_bytes = 0;
		e->retrans = e->srtt_us = 0;
	}
	event_submit(e);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	token_set((__u64)sk, oldstate << 8 | newstate);
	return handle_set_state(sk, oldstate, newstate, 0);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_rescue, const struct sock *sk, int oldstate, int newstate)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (token_seen((__u64)sk, oldstate << 8 | newstate))
		return 0;
	count(CNT_RESCUED);
	return handle_set_state(sk, oldstate, newstate, EVF_RESCUED);
}

/* True for the two timers tcpphase follows; the first test on every timer. */
static __always_inline bool timer_ours(struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	return fn && (fn == tw_timer_fn || fn == req_timer_fn);
}

/* A request sock's event, ts and type given (also kept by a req_wait). */
static __always_inline void fill_req(struct event *e, struct request_sock *req,
				     const struct skc_view *v, __u32 netns, int type, __u64 ts,
				     __u8 flags)
{
	if (BPF_CORE_READ_BITFIELD_PROBED(req, syncookie))
		flags |= EVF_SYNCOOKIE;
	e->ts_ns = ts;
	e->type = type;
	e->id = (__u64)req;
	e->flags = flags;
	e->cpu = bpf_get_smp_processor_id();
	e->oldstate = 0;
	e->newstate = TCP_NEW_SYN_RECV;
	e->aux = (__u64)BPF_CORE_READ(req, __req_common.skc_listener);
	e->retrans = BPF_CORE_READ(req, num_retrans);
	e->pid = 0;
	e->comm[0] = 0;
	e->err = 0;
	e->tx_bytes = e->rx_bytes = 0;
	e->srtt_us = 0;
	read_common(e, v, netns);
}

static __always_inline void send_req(struct request_sock *req, const struct skc_view *v,
				     __u32 netns, int type, __u64 ts, __u8 flags)
{
	struct event *e = event_reserve();

	if (!e)
		return;
	fill_req(e, req, v, netns, type, ts, flags);
	event_submit(e);
}

/* Aggregation: a SYN on the tuple of a TIME_WAIT just cancelled here recycles it. */
static __always_inline bool tw_recycled(__u32 netns, __u16 sport, __u16 dport)
{
	__u32 zero = 0;
	struct tw_cancel *c = bpf_map_lookup_elem(&last_tw_cancel, &zero);

	if (!c || !c->tw || c->netns != netns || c->sport != sport || c->dport != dport)
		return false;
	c->tw = 0;
	return true;
}

/* Aggregation: keep a cancelled request for its child (see struct req_wait). */
static __always_inline void req_wait_set(struct req_wait *w, struct request_sock *req,
					 const struct skc_view *v, __u32 netns, __u64 syn_ns,
					 __u64 now, bool sent, __u8 flags)
{
	if (w->pending && !w->sent)
		req_wait_send(w); /* the one before had no child */
	fill_req(&w->ev, req, v, netns, EV_REQ_START, syn_ns, flags);
	w->cancel_ns = now;
	w->sent = sent;
	w->pending = 1;
}

/*
 * The request sock timer. Aggregating, a request's SYN time is kept in a
 * slot and rides on its child's record; its events are sent as they come
 * only once it has no slot (see struct req_slot).
 */
static __always_inline int handle_req_timer(struct request_sock *req, int type, __u64 now,
					    __u8 flags)
{
	__u64 id = (__u64)req;
	struct skc_view v;
	struct req_wait *w;
	struct req_slot *r;
	__u32 zero = 0, netns;
	bool claimed;

	if (skc_view_read(&req->__req_common, &v) || !tuple_wanted(v.family, v.sport, v.dport))
		return 0;
	netns = netns_inum_probed((const struct net *)v.net);
	w = aggregate ? bpf_map_lookup_elem(&req_waits, &zero) : NULL;
	if (w && type == EV_REQ_START) {
		if (w->expired == id) {
			w->expired = 0; /* re-armed after a SYN-ACK retransmit */
		} else if (!tw_recycled(netns, v.sport, v.dport)) {
			r = req_slot_get(id, true, &claimed);
			if (r && claimed)
				r->syn_ns = now;
			if (r)
				return 0;
			count(CNT_AGG_FULL);
		}
	} else if (w && type == EV_REQ_EXPIRE) {
		if (w->pending && w->ev.id == id)
			w->pending = 0; /* its cancel was the timer firing */
		w->expired = id;
		r = req_slot_get(id, false, &claimed);
		if (r) {
			send_req(req, &v, netns, EV_REQ_START, r->syn_ns, flags);
			r->req = 0;
		}
	} else if (w) {
		r = req_slot_get(id, false, &claimed);
		req_wait_set(w, req, &v, netns, r ? r->syn_ns : 0, now, !r, flags);
		if (r)
			return 0;
	}
	send_req(req, &v, netns, type, now, flags);
	return 0;
}

/*
 * The TIME_WAIT timer. Its first arming is kept for the socket's
 * "-> CLOSE" that follows on this CPU; aggregating, it is sent with it.
 */
static __always_inline int handle_tw_timer(struct inet_timewait_sock *tw, int type, __u64 now,
					   unsigned long expires, __u8 flags)
{
	__u64 expires_ns = jiffies_to_ktime(now, expires);
	struct agg_ring_rec *r = NULL;
	__u16 sport, dport;
	struct tw_cancel *c;
	struct skc_view v;
	struct event *e;
	__u32 zero = 0, netns;
	__u8 substate;
	__u64 pos = 0;

	if (skc_view_read(&tw->__tw_common, &v) || !tuple_wanted(v.family, v.sport, v.dport))
		return 0;
	sport = v.sport;
	dport = v.dport;
	substate = BPF_CORE_READ(tw, tw_substate);
	netns = netns_inum_probed((const struct net *)v.net);
	c = bpf_map_lookup_elem(&last_tw_cancel, &zero);
	/*
	 * A re-arm is a cancel and then at once a start of the same timer. A
	 * tw sock freed after its cancel (or expiry) is often reallocated on
	 * this CPU for the next TIME_WAIT: same address, but another tuple
	 * (the same one only after a reuse, which forgets the cancel), and
	 * that start is a first arming.
	 */
	if (type == EV_TW_START && c && c->tw == (__u64)tw && now - c->ts_ns < REARM_NS &&
	    c->netns == netns && c->sport == sport && c->dport == dport) {
		c->tw = 0; /* a re-arm: cancel, then start */
	} else if (type == EV_TW_START) {
		struct tw_link *l = bpf_map_lookup_elem(&last_tw, &zero);

		flags |= EVF_FIRST_ARM;
		if (l) {
			l->tw = (__u64)tw;
			l->netns = netns;
			l->sport = sport;
			l->dport = dport;
			l->start_ns = now;
			l->expires_ns = expires_ns;
			l->substate = substate;
		}
		if (aggregate)
			return 0;
	} else if (type == EV_TW_EXPIRE) {
		if (c && c->tw == (__u64)tw)
			c->tw = 0; /* its cancel was the timer firing: no re-arm follows */
	} else if (type == EV_TW_CANCEL) {
		/* reuse: connect() on this CPU, same task, same tuple */
		struct connect_ctx *cc = bpf_map_lookup_elem(&last_connect, &zero);

		if (cc && cc->sk && cc->pid_tgid == bpf_get_current_pid_tgid()) {
			const struct sock *sk = (const struct sock *)cc->sk;

			if (BPF_CORE_READ(sk, __sk_common.skc_num) == sport &&
			    bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)) == dport)
				flags |= EVF_CONNECTING;
		}
		/* a reuse is an end: the next start on this tuple is a new TIME_WAIT */
		if (c && (flags & EVF_CONNECTING)) {
			c->tw = 0;
		} else if (c) {
			c->tw = (__u64)tw;
			c->ts_ns = now;
			c->netns = netns;
			c->sport = sport;
			c->dport = dport;
		}
	}
	/*
	 * Aggregating, a TIME_WAIT event goes on this CPU's ring like the
	 * socket records it follows (no ring-buffer lock); n_steps = 0 marks a
	 * single event. TIME_WAIT ends come in bursts (the timer wheel fires a
	 * 60 s timer with a 2 s granularity: a whole bucket at once): they may
	 * fill half the ring, no more, so that socket records always find
	 * room, and past that take the ring buffer; user space merges the two
	 * on time.
	 */
	if (aggregate)
		r = ring_claim(&pos, 1ULL << (agg_ring_bits - 1));
	if (r) {
		e = &r->rec.head;
		r->rec.n_steps = 0;
	} else {
		e = event_reserve();
		if (!e)
			return 0;
	}
	e->ts_ns = now;
	e->type = type;
	e->id = (__u64)tw;
	e->flags = flags;
	e->cpu = bpf_get_smp_processor_id();
	e->oldstate = 0;
	e->newstate = substate;
	e->aux = expires_ns;
	e->pid = 0;
	e->comm[0] = 0;
	e->err = 0;
	e->tx_bytes = e->rx_bytes = 0;
	e->retrans = e->srtt_us = 0;
	read_common(e, &v, netns);
	if (r)
		ring_publish(r, pos);
	else
		event_submit(e);
	return 0;
}

/* A TIME_WAIT or request sock timer event; type is EV_TW_* for the tw timer. */
static __always_inline int handle_timer(struct timer_list *timer, int tw_type, int req_type,
					__u8 flags)
{
	__u64 now = bpf_ktime_get_ns();

	if ((__u64)timer->function == tw_timer_fn)
		return handle_tw_timer(
			(void *)timer - bpf_core_field_offset(struct inet_timewait_sock, tw_timer),
			tw_type, now, timer->expires, flags);
	return handle_req_timer((void *)timer -
					bpf_core_field_offset(struct request_sock, rsk_timer),
				req_type, now, flags);
}

/*
 * The timer tracepoints need no rescue program: timer_start and
 * timer_cancel fire under the timer base lock with interrupts off, and
 * timer_expire_entry in the timer softirq, which no softirq interrupts;
 * none of them can fire inside a run of the same program on this CPU. A
 * miss would still show in the program's recursion_misses, and be reported.
 */
#define TIMER_PROG(name, tw_type, req_type)                       \
	SEC("tp_btf/" #name)                                      \
	int BPF_PROG(name, struct timer_list *timer)              \
	{                                                         \
		if (!timer_ours(timer))                           \
			return 0;                                 \
		return handle_timer(timer, tw_type, req_type, 0); \
	}

TIMER_PROG(timer_start, EV_TW_START, EV_REQ_START)
TIMER_PROG(timer_expire_entry, EV_TW_EXPIRE, EV_REQ_EXPIRE)
TIMER_PROG(timer_cancel, EV_TW_CANCEL, EV_REQ_CANCEL)

/* Layout of the syscalls:sys_exit_* tracepoint record. */
struct sys_exit_args {
	__u64 common;
	long id;
	long ret;
};

/* accept() returned fd: find its socket and say which task took it. */
static __always_inline int handle_accept(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *file;
	struct socket *sock;
	struct sock *sk;
	struct skc_view v;
	struct event *e;

	if (fd < 0)
		return 0;
	if (target_pid && (bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (skc_view_read(&sk->__sk_common, &v) || !tuple_wanted(v.family, v.sport, v.dport))
		return 0;
	if (target_pid) {
		__u64 skp = (__u64)sk;
		__u8 one = 1;

		if (bpf_map_update_elem(&pid_socks, &skp, &one, BPF_ANY))
			count(CNT_SCRATCH_FULL);
	}
	if (aggregate) {
		struct sock_slot *s = sock_slot_get((__u64)sk, false);

		/* an accept rides on the socket's record; the first one counts */
		if (s) {
			if (!s->rec.accept_ns) {
				s->rec.accept_ns = bpf_ktime_get_ns();
				s->rec.accept_pid = bpf_get_current_pid_tgid() >> 32;
				bpf_get_current_comm(s->rec.accept_comm,
						     sizeof(s->rec.accept_comm));
			}
			return 0;
		}
	}
	e = event_reserve();
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->type = EV_ACCEPT;
	e->id = (__u64)sk;
	e->flags = 0;
	e->cpu = bpf_get_smp_processor_id();
	e->oldstate = e->newstate = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->aux = 0;
	e->err = 0;
	e->tx_bytes = e->rx_bytes = 0;
	e->retrans = e->srtt_us = 0;
	read_common(e, &v, netns_inum_probed((const struct net *)v.net));
	fill_task(e);
	event_submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct sys_exit_args *ctx)
{
	return handle_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct sys_exit_args *ctx)
{
	return handle_accept(ctx->ret);
}

/*
 * Read a TIME_WAIT sock's substate and expiry on demand (run by user space
 * through BPF_PROG_TEST_RUN, never attached): an orphan FIN_WAIT2 that turned
 * into TIME_WAIT by a re-arm that fired no timer_start shows it only here.
 */
struct tw_probe tw_probe_out = {};

SEC("raw_tp")
int probe_tw(struct bpf_raw_tracepoint_args *ctx)
{
	struct inet_timewait_sock *tw = (void *)ctx->args[0];
	__u64 now = bpf_ktime_get_ns();

	tw_probe_out.tw = (__u64)tw;
	tw_probe_out.valid = (__u64)BPF_CORE_READ(tw, tw_timer.function) == tw_timer_fn;
	tw_probe_out.substate = BPF_CORE_READ(tw, tw_substate);
	tw_probe_out.sport = BPF_CORE_READ(tw, __tw_common.skc_num);
	tw_probe_out.dport = bpf_ntohs(BPF_CORE_READ(tw, __tw_common.skc_dport));
	tw_probe_out.expires_ns = jiffies_to_ktime(now, BPF_CORE_READ(tw, tw_timer.expires));
	return 0;
}

/*
 * Read jiffies and the monotonic clock together (run by user space through
 * BPF_PROG_TEST_RUN, never attached): two such reads some time apart give
 * the kernel's HZ without its config file.
 */
struct clock_probe clock_probe_out = {};

SEC("raw_tp")
int probe_clock(struct bpf_raw_tracepoint_args *ctx)
{
	clock_probe_out.jiffies = bpf_jiffies64();
	clock_probe_out.ktime_ns = bpf_ktime_get_ns();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
