// SPDX-License-Identifier: GPL-2.0
/*
 * tcpphase.bpf.c - the kernel side of tcpphase: raw facts about every TCP
 * connection's phases, from tracepoints only (no kprobes, no fentry).
 *
 *  - sock:inet_sock_set_state: every state change of a full TCP socket;
 *  - timer:timer_{start,expire_entry,cancel} on tw_timer_handler and
 *    reqsk_timer_handler: the TIME_WAIT sock and the request sock (passive
 *    handshake), which no state tracepoint shows;
 *  - syscalls:sys_exit_accept{,4}: which task accepted a passive socket.
 *
 * Every hook comes as a pair, a primary and a rescue attached after it: a
 * run of a program that is interrupted by a softirq firing the same
 * tracepoint makes the kernel skip the nested run (a recursion miss). The
 * primary leaves a per-CPU token naming the event it handled; the rescue
 * handles the event itself when the token does not match, so one of the two
 * sees every event whichever of them was interrupted.
 *
 * The programs keep almost no state: user space joins the records.
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
/* Jiffies per second: the kernel config's (libbpf reads it), else 250. */
extern unsigned int CONFIG_HZ __kconfig __weak;
const volatile __u32 hz_fallback = 250;
/* Wake the reader only once the ring buffer holds this many bytes. */
const volatile __u64 wakeup_bytes = 0;

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

/* The event a primary program handled last on this CPU. */
struct token {
	__u64 obj;
	__u32 what;
	__u32 hook;
};

enum hook_id { HOOK_STATE, HOOK_TSTART, HOOK_TEXPIRE, HOOK_TCANCEL, HOOK_ACCEPT, HOOK_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HOOK_MAX);
	__type(key, __u32);
	__type(value, struct token);
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

/* With -p: the sockets that belong to target_pid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} pid_socks SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

/* Primary: record that this CPU handled event (obj, what) of hook. */
static __always_inline void token_set(__u32 hook, __u64 obj, __u32 what)
{
	struct token *t = bpf_map_lookup_elem(&tokens, &hook);

	if (t) {
		t->obj = obj;
		t->what = what;
		t->hook = hook;
	}
}

/*
 * Rescue: true when the primary already handled event (obj, what). The
 * token is consumed: a socket freed and reallocated at the same address on
 * this CPU can repeat a transition, and a stale token must not hide it.
 */
static __always_inline bool token_seen(__u32 hook, __u64 obj, __u32 what)
{
	struct token *t = bpf_map_lookup_elem(&tokens, &hook);

	if (!t)
		return true;
	if (t->obj != obj || t->what != what)
		return false;
	t->obj = 0;
	return true;
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
static __always_inline void event_submit(struct event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (!wakeup_bytes || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = 0;
	bpf_ringbuf_submit(e, flags);
}

/* Fill family, netns, addresses of a sock_common (full, tw or req sock). */
static __always_inline void read_common(struct event *e, const struct sock_common *skc)
{
	e->family = BPF_CORE_READ(skc, skc_family);
	e->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	e->dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (e->family == AF_INET6) {
		bpf_core_read(e->saddr, 16, &skc->skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &skc->skc_v6_daddr);
	} else {
		__builtin_memset(e->saddr, 0, sizeof(e->saddr));
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
		bpf_core_read(e->saddr, 4, &skc->skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &skc->skc_daddr);
	}
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
	__u32 hz = CONFIG_HZ ? CONFIG_HZ : hz_fallback;

	return now_ns + delta * (__s64)(NSEC_PER_SEC / hz);
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
	e->netns = skc->skc_net.net->ns.inum;
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

static __always_inline int handle_set_state(const struct sock *sk, int oldstate, int newstate,
					    __u8 flags)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	bool proc = in_process_ctx(oldstate, newstate);
	__u16 family, sport, dport;
	struct event *e;
	__u32 zero = 0;
	__u64 skp = (__u64)sk;

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
	e->aux = 0;
	e->pid = 0;
	e->comm[0] = 0;
	e->err = sk->sk_err;
	read_sock(e, sk);
	if (proc)
		fill_task(e);

	/* Byte and retransmit counts matter when a phase ends. */
	if (newstate == TCP_CLOSE || newstate == TCP_ESTABLISHED || oldstate == TCP_ESTABLISHED) {
		e->tx_bytes = tp->bytes_acked;
		e->rx_bytes = tp->bytes_received;
		e->retrans = tp->total_retrans;
		e->srtt_us = tp->srtt_us >> 3;
	} else {
		e->tx_bytes = e->rx_bytes = 0;
		e->retrans = e->srtt_us = 0;
	}
	if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV && tp->fastopen_rsk)
		e->flags |= EVF_FASTOPEN;

	if (newstate == TCP_CLOSE) {
		struct tw_link *l = bpf_map_lookup_elem(&last_tw, &zero);

		if (l && l->tw && l->netns == e->netns && l->sport == sport && l->dport == dport) {
			e->aux = l->tw;
			l->tw = 0;
		}
	}
	event_submit(e);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	token_set(HOOK_STATE, (__u64)sk, oldstate << 8 | newstate);
	return handle_set_state(sk, oldstate, newstate, 0);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_rescue, const struct sock *sk, int oldstate, int newstate)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (token_seen(HOOK_STATE, (__u64)sk, oldstate << 8 | newstate))
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

/* A TIME_WAIT or request sock timer event; type is EV_TW_* for the tw timer. */
static __always_inline int handle_timer(struct timer_list *timer, int tw_type, int req_type,
					__u8 flags)
{
	__u64 fn = (__u64)timer->function;
	__u64 now = bpf_ktime_get_ns();
	struct sock_common *skc;
	struct event *e;
	__u16 sport, dport, family;
	__u32 zero = 0;

	if (fn == tw_timer_fn) {
		struct inet_timewait_sock *tw;

		tw = (void *)timer - bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
		skc = &tw->__tw_common;
		family = BPF_CORE_READ(skc, skc_family);
		sport = BPF_CORE_READ(skc, skc_num);
		dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
		if (!tuple_wanted(family, sport, dport))
			return 0;
		e = event_reserve();
		if (!e)
			return 0;
		e->type = tw_type;
		e->id = (__u64)tw;
		e->newstate = BPF_CORE_READ(tw, tw_substate);
		e->aux = jiffies_to_ktime(now, timer->expires);
		e->retrans = 0;
	} else {
		struct request_sock *req;

		req = (void *)timer - bpf_core_field_offset(struct request_sock, rsk_timer);
		skc = &req->__req_common;
		family = BPF_CORE_READ(skc, skc_family);
		sport = BPF_CORE_READ(skc, skc_num);
		dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
		if (!tuple_wanted(family, sport, dport))
			return 0;
		e = event_reserve();
		if (!e)
			return 0;
		e->type = req_type;
		e->id = (__u64)req;
		e->newstate = TCP_NEW_SYN_RECV;
		e->aux = (__u64)BPF_CORE_READ(skc, skc_listener);
		e->retrans = BPF_CORE_READ(req, num_retrans);
		if (BPF_CORE_READ_BITFIELD_PROBED(req, syncookie))
			flags |= EVF_SYNCOOKIE;
	}
	e->ts_ns = now;
	e->cpu = bpf_get_smp_processor_id();
	e->oldstate = 0;
	e->sport = sport;
	e->pid = 0;
	e->comm[0] = 0;
	e->err = 0;
	e->tx_bytes = e->rx_bytes = 0;
	e->srtt_us = 0;
	read_common(e, skc);

	if (e->type == EV_TW_START) {
		struct tw_link *l = bpf_map_lookup_elem(&last_tw, &zero);

		if (l) {
			l->tw = e->id;
			l->netns = e->netns;
			l->sport = sport;
			l->dport = dport;
		}
	} else if (e->type == EV_TW_CANCEL) {
		/* reuse: connect() on this CPU, same task, same tuple */
		struct connect_ctx *c = bpf_map_lookup_elem(&last_connect, &zero);

		if (c && c->sk && c->pid_tgid == bpf_get_current_pid_tgid()) {
			const struct sock *sk = (const struct sock *)c->sk;

			if (BPF_CORE_READ(sk, __sk_common.skc_num) == sport &&
			    bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)) == dport)
				flags |= EVF_CONNECTING;
		}
	}
	e->flags = flags;
	event_submit(e);
	return 0;
}

#define TIMER_PROGS(name, hook, tw_type, req_type)                                        \
	SEC("tp_btf/" #name)                                                              \
	int BPF_PROG(name, struct timer_list *timer)                                      \
	{                                                                                 \
		if (!timer_ours(timer))                                                   \
			return 0;                                                         \
		token_set(hook, (__u64)timer, timer->expires);                            \
		return handle_timer(timer, tw_type, req_type, 0);                         \
	}                                                                                 \
	SEC("tp_btf/" #name)                                                              \
	int BPF_PROG(name##_rescue, struct timer_list *timer)                             \
	{                                                                                 \
		if (!timer_ours(timer) || token_seen(hook, (__u64)timer, timer->expires)) \
			return 0;                                                         \
		count(CNT_RESCUED);                                                       \
		return handle_timer(timer, tw_type, req_type, EVF_RESCUED);               \
	}

TIMER_PROGS(timer_start, HOOK_TSTART, EV_TW_START, EV_REQ_START)
TIMER_PROGS(timer_expire_entry, HOOK_TEXPIRE, EV_TW_EXPIRE, EV_REQ_EXPIRE)
TIMER_PROGS(timer_cancel, HOOK_TCANCEL, EV_TW_CANCEL, EV_REQ_CANCEL)

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
	struct event *e;
	__u16 family, sport, dport;

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
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (!tuple_wanted(family, sport, dport))
		return 0;
	if (target_pid) {
		__u64 skp = (__u64)sk;
		__u8 one = 1;

		if (bpf_map_update_elem(&pid_socks, &skp, &one, BPF_ANY))
			count(CNT_SCRATCH_FULL);
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
	e->sport = sport;
	e->aux = 0;
	e->err = 0;
	e->tx_bytes = e->rx_bytes = 0;
	e->retrans = e->srtt_us = 0;
	read_common(e, &sk->__sk_common);
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

char LICENSE[] SEC("license") = "GPL";
