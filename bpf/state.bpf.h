/* SPDX-License-Identifier: GPL-2.0 */
/*
 * state.bpf.h - the state hook: every state change of a full TCP socket,
 * gathered in its slot or sent as it comes.
 */
#ifndef __STATE_BPF_H
#define __STATE_BPF_H

/*
 * Add a state change to the socket's slot. The slot is sent at "-> CLOSE",
 * when full, at ESTABLISHED for live outputs, and when a child's events
 * must reach user space now (its request's were sent as they came).
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
	/* the socket's cgroup never changes: read at its first step only */
	if (n == 0)
		s->rec.head.cgroup = sock_cgroup_id(sk);
	if (n == 0 || newstate == TCP_ESTABLISHED) {
		s->rec.head.family = sk->__sk_common.skc_family;
		s->rec.head.sport = sport;
		s->rec.head.dport = dport;
		read_sock(&s->rec.head, sk);
	}
	/* live outputs learn of a handshake when it ends, not at the close */
	if (live && newstate == TCP_ESTABLISHED)
		send = true;
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
	event_init(e, EV_TW_START, tw, l->start_ns, EVF_FIRST_ARM);
	e->aux = l->expires_ns;
	e->newstate = l->substate;
	e->sport = sport;
	e->dport = dport;
	e->cgroup = sock_cgroup_id(sk);
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
	if (n_cgroups && !sock_cgroup_wanted(sk))
		return 0;
	if (listen_view)
		listen_on_state(sk, sport, oldstate, newstate);

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
	gauge_state(oldstate, newstate);

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
			cgroup_tw_keep(tw);
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
	} else if (n_cgroups && l) {
		/* --cgroup: a tw sock's first arming waits for its socket's (see cgroup.bpf.h) */
		send_tw_start(l, tw, sk, sport, dport);
	}

	e = event_reserve();
	if (!e)
		return 0;
	event_init(e, EV_STATE, skp, bpf_ktime_get_ns(), flags);
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->sport = sport;
	e->dport = dport;
	e->aux = tw;
	e->err = sk->sk_err;
	e->cgroup = sock_cgroup_id(sk);
	read_sock(e, sk);
	if (proc)
		fill_task(e);
	/* Byte and retransmit counts matter when a phase ends. */
	if (newstate == TCP_CLOSE || newstate == TCP_ESTABLISHED || oldstate == TCP_ESTABLISHED)
		read_counters(e, tp);
	event_submit(e);
	return 0;
}

#endif /* __STATE_BPF_H */
