/* SPDX-License-Identifier: GPL-2.0 */
/*
 * twtimer.bpf.h - the TIME_WAIT timer: the tw sock that takes over a closed
 * socket, its orphan FIN_WAIT2, and how its TIME_WAIT ends.
 */
#ifndef __TWTIMER_BPF_H
#define __TWTIMER_BPF_H

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
	gauge_tw((__u64)tw, type, substate);
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
		/* sent with its socket: aggregating, or to know its cgroup */
		if (aggregate || n_cgroups)
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
	if (!cgroup_tw_wanted((__u64)tw, type))
		return 0;
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
	event_init(e, type, (__u64)tw, now, flags);
	e->newstate = substate;
	e->aux = expires_ns;
	read_common(e, &v, netns);
	if (r)
		ring_publish(r, pos);
	else
		event_submit(e);
	return 0;
}

#endif /* __TWTIMER_BPF_H */
