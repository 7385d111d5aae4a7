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
 *    passive socket;
 *  - tcp:tcp_send_reset, tcp:tcp_receive_reset: resets, with the kernel's
 *    reason where it has one;
 *  - with --listeners: skb:consume_skb (SYNs a listener took),
 *    skb:kfree_skb (final ACKs dropped on a full accept queue),
 *    tcp:tcp_retransmit_synack.
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
 *
 * One object, one concern per file, included in this order (each needs
 * only what comes before it): config.bpf.h (settings from user space),
 * maps.bpf.h (every map, its owner and lifetime), common.bpf.h (helpers),
 * cgroup.bpf.h (a socket's cgroup, the --cgroup filter),
 * emit.bpf.h (ring buffer and per-CPU rings), gauges.bpf.h (endpoints per
 * state now), slots.bpf.h (aggregation
 * slots), state.bpf.h (the state hook), reqtimer.bpf.h (the passive
 * handshake), twtimer.bpf.h (TIME_WAIT), accept.bpf.h (accept()), resets.bpf.h
 * (resets), listeners.bpf.h (the listener view, included before the
 * hooks that feed it). This file
 * holds the entry points, in attach order.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcpphase.h"
#include "config.bpf.h"
#include "maps.bpf.h"
#include "common.bpf.h"
#include "cgroup.bpf.h"
#include "emit.bpf.h"
#include "gauges.bpf.h"
#include "listeners.bpf.h"
#include "slots.bpf.h"
#include "state.bpf.h"
#include "reqtimer.bpf.h"
#include "twtimer.bpf.h"
#include "accept.bpf.h"
#include "resets.bpf.h"

/* The entry points, in attach order: each primary before its rescue. */

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
	return handle_set_state(sk, oldstate, newstate, 0);
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
 * Resets (optional: user space loads the one send_reset program that fits
 * the kernel's tracepoint, with the reason argument or without it, as its
 * BTF says). Rare: no rescue program; a nested run missed is a recursion
 * miss, reported.
 */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(send_reset, const struct sock *sk, const struct sk_buff *skb, int reason)
{
	return handle_reset(sk, skb, (__u32)reason, RST_SENT);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(send_reset_noreason, const struct sock *sk, const struct sk_buff *skb)
{
	return handle_reset(sk, skb, RST_REASON_NONE, RST_SENT);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(receive_reset, const struct sock *sk)
{
	return handle_reset(sk, NULL, RST_REASON_NONE, RST_RECEIVED);
}

/*
 * The listener view (optional, with --listeners; each loaded only where
 * the kernel's BTF shows what it needs). consume_skb runs for every
 * consumed packet: the location test comes first.
 */
SEC("tp_btf/consume_skb")
int BPF_PROG(listen_syn, struct sk_buff *skb, void *location)
{
	if ((__u64)location < rcv_state_lo || (__u64)location >= rcv_state_hi)
		return 0;
	listen_on_syn(skb);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(listen_drop, struct sk_buff *skb, void *location, int reason)
{
	if (!bpf_core_enum_value_exists(enum skb_drop_reason,
					SKB_DROP_REASON_TCP_LISTEN_OVERFLOW) ||
	    reason !=
		    bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW))
		return 0;
	listen_on_ack_overflow(skb);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(listen_synack_rtx, const struct sock *sk, const struct request_sock *req)
{
	listen_on_synack_rtx(sk);
	return 0;
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
