/* SPDX-License-Identifier: GPL-2.0 */
/*
 * config.bpf.h - the constants and the const volatile settings that user space
 * writes before load (filters, timer function addresses, sizes).
 */
#ifndef __CONFIG_BPF_H
#define __CONFIG_BPF_H

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
/* Live outputs (summary, metrics, --open): send a slot's steps at ESTABLISHED too. */
const volatile bool live = false;
/* Keep the state gauges (state_gauge): with --metrics or --summary. */
const volatile bool gauges = false;
/* The listener view (--listeners): count into listen_stats. */
const volatile bool listen_view = false;
/* consume_skb is hooked: SYNs are counted and classified there. */
const volatile bool listen_syn_hook = false;
/* Where tcp_rcv_state_process lies: a SYN a listener took is consumed there. */
const volatile __u64 rcv_state_lo = 0;
const volatile __u64 rcv_state_hi = 0;
const volatile __u32 slot_bits = 10;
const volatile __u32 agg_ring_bits = 9; /* records per CPU: 1 << agg_ring_bits */

/* How many slots from its hash a socket or request may land in. */
#define SLOT_PROBES 4
#define NO_STEP 0xff
#define NO_SLOT 0xffffffffU

#endif /* __CONFIG_BPF_H */
