/* SPDX-License-Identifier: GPL-2.0 */
/*
 * slots.bpf.h - the aggregation slots: a socket's or a request's slot,
 * claimed by its hashed pointer, and sending a slot as one record.
 */
#ifndef __SLOTS_BPF_H
#define __SLOTS_BPF_H

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

#endif /* __SLOTS_BPF_H */
