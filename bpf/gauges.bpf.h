/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gauges.bpf.h - how many endpoints are in each TCP state now: full
 * sockets moved by the state hook, tw socks and request socks by their
 * timers. A timer is pending for exactly as long as its sock lives: its
 * first arming adds one, a cancel (which the kernel also reports when the
 * timer fires, and before a re-arm's new start) takes one away.
 */
#ifndef __GAUGES_BPF_H
#define __GAUGES_BPF_H

static __always_inline void gauge_add(__u32 state, __s64 n)
{
	__s64 *g = bpf_map_lookup_elem(&state_gauge, &state);

	/* atomic: a softirq may run the rescue program on this CPU meanwhile */
	if (g)
		__sync_fetch_and_add(g, n);
}

/* A full socket went from oldstate to newstate. */
static __always_inline void gauge_state(int oldstate, int newstate)
{
	if (!gauges)
		return;
	/* a child's first change says LISTEN, copied from its listener */
	if (oldstate != TCP_CLOSE && !(oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV))
		gauge_add(oldstate, -1);
	if (newstate != TCP_CLOSE)
		gauge_add(newstate, 1);
}

/* A request sock's timer: pending while the request waits for its ACK. */
static __always_inline void gauge_req(int type)
{
	if (!gauges)
		return;
	if (type == EV_REQ_START)
		gauge_add(TCP_SYN_RECV, 1);
	else if (type == EV_REQ_CANCEL)
		gauge_add(TCP_SYN_RECV, -1);
}

/*
 * A tw sock's timer, counted under its substate (an orphan's FIN_WAIT2 or
 * TIME_WAIT); a start that sees the substate changed moves it. A flip with
 * no timer event (the re-arm stayed in its timer-wheel bucket) is seen at
 * the next one, or by user space probing the orphans.
 */
static __always_inline void gauge_tw(__u64 tw, int type, __u8 substate)
{
	__u8 *was;

	if (!gauges)
		return;
	was = bpf_map_lookup_elem(&tw_gauge, &tw);
	if (type == EV_TW_START) {
		if (was && *was == substate)
			return;
		if (was) {
			gauge_add(*was, -1);
			*was = substate;
		} else if (bpf_map_update_elem(&tw_gauge, &tw, &substate, BPF_ANY)) {
			count(CNT_GAUGE_FULL);
			return;
		}
		gauge_add(substate, 1);
	} else if (type == EV_TW_CANCEL && was) {
		gauge_add(*was, -1);
		bpf_map_delete_elem(&tw_gauge, &tw);
	}
}

#endif /* __GAUGES_BPF_H */
