// SPDX-License-Identifier: GPL-2.0
/*
 * hookcount.bpf.c - empty programs on the hooks a lifecycle tracer could
 * use: the tracepoints tcpphase uses, and, where fentry attaches, the
 * functions that handle TIME_WAIT and request socks directly. Each does
 * nothing: with bpf_stats on, the kernel's run counts say how often each
 * hook fires per connection, and its run time what a hook costs empty.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define EMPTY(name, sec)   \
	SEC(sec)           \
	int BPF_PROG(name) \
	{                  \
		return 0;  \
	}

/* tcpphase's tracepoints */
EMPTY(tp_set_state, "tp_btf/inet_sock_set_state")
EMPTY(tp_timer_start, "tp_btf/timer_start")
EMPTY(tp_timer_expire, "tp_btf/timer_expire_entry")
EMPTY(tp_timer_cancel, "tp_btf/timer_cancel")

/* the state change itself: tcp_set_state, and inet_sk_set_state (a new child) */
EMPTY(fe_tcp_set_state, "fentry/tcp_set_state")
EMPTY(fe_inet_sk_set_state, "fentry/inet_sk_set_state")
/* TIME_WAIT: armed (first time and re-arms), expired, ended early */
EMPTY(fe_twsk_schedule, "fentry/__inet_twsk_schedule")
EMPTY(fe_tw_timer_handler, "fentry/tw_timer_handler")
EMPTY(fe_twsk_deschedule_put, "fentry/inet_twsk_deschedule_put")
/*
 * request socks: queued (the SYN), the timer (SYN-ACK resent, expiry),
 * unlinked, and the child created (which unlinks it by a call that the
 * compiler may inline)
 */
EMPTY(fe_reqsk_hash_add, "fentry/inet_csk_reqsk_queue_hash_add")
EMPTY(fe_reqsk_timer_handler, "fentry/reqsk_timer_handler")
EMPTY(fe_reqsk_queue_drop, "fentry/inet_csk_reqsk_queue_drop")
EMPTY(fe_reqsk_complete, "fentry/inet_csk_complete_hashdance")

char LICENSE[] SEC("license") = "GPL";
