/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reqtimer.bpf.h - the request-socket timer: the passive handshake (SYN
 * arrival, SYN-ACK retransmits, the request's end), which no state
 * tracepoint shows.
 */
#ifndef __REQTIMER_BPF_H
#define __REQTIMER_BPF_H

/* A request sock's event, ts and type given (also kept by a req_wait). */
static __always_inline void fill_req(struct event *e, struct request_sock *req,
				     const struct skc_view *v, __u32 netns, int type, __u64 ts,
				     __u8 flags)
{
	if (BPF_CORE_READ_BITFIELD_PROBED(req, syncookie))
		flags |= EVF_SYNCOOKIE;
	event_init(e, type, (__u64)req, ts, flags);
	e->newstate = TCP_NEW_SYN_RECV;
	e->aux = (__u64)BPF_CORE_READ(req, __req_common.skc_listener);
	e->retrans = BPF_CORE_READ(req, num_retrans);
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
	if (n_cgroups && !sock_cgroup_wanted(BPF_CORE_READ(req, __req_common.skc_listener)))
		return 0;
	gauge_req(type);
	netns = netns_inum_probed((const struct net *)v.net);
	if (listen_view && type == EV_REQ_START)
		listen_on_request(req, &v, netns);
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

#endif /* __REQTIMER_BPF_H */
