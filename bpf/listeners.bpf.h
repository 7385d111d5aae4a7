/* SPDX-License-Identifier: GPL-2.0 */
/*
 * listeners.bpf.h - the listener view (--listeners): per listening port of
 * a netns, the SYNs it got, what became of them (a request sock, a drop
 * because the accept or SYN queue was full, a syncookie), its handshakes
 * and accepts, and how long its accept queue was at each SYN and accept.
 *
 * A listener is known from its first request sock (req->rsk_listener) or
 * from its "-> LISTEN"; the packets that name no socket (a SYN consumed by
 * tcp_rcv_state_process, a final ACK dropped with the kernel's
 * TCP_LISTEN_OVERFLOW reason) find it by netns and port.
 */
#ifndef __LISTENERS_BPF_H
#define __LISTENERS_BPF_H

#define TCPF_SYN 0x02
#define TCPF_ACK 0x10
#define SKB_DST_NOREF 1UL

static __always_inline bool listen_wanted(__u16 family, __u16 port)
{
	if (target_family && family != target_family)
		return false;
	return !n_lports || port_in(port, lports, n_lports);
}

static __always_inline void listen_add(__u64 *field)
{
	__sync_fetch_and_add(field, 1);
}

/* One more accept queue length q into histogram h, its sum and its running max. */
static __always_inline void listen_queue(__u64 *h, __u64 *sum, __u32 *max, __u32 q)
{
	__u32 b = lq_bucket(q);

	/* keeps the bound on the register used below (older verifiers lose it) */
	barrier_var(b);
	if (b < LQ_BUCKETS)
		__sync_fetch_and_add(&h[b], 1);
	__sync_fetch_and_add(sum, q);
	if (q > *max)
		*max = q; /* racy: a max seen by one CPU may be lost to another's */
}

static __always_inline struct listen_stats *listen_lookup(__u32 netns, __u16 port)
{
	struct listen_key k = { .netns = netns, .port = port };

	return bpf_map_lookup_elem(&listen_stats, &k);
}

/*
 * The entry of listener l (on port, in netns), made if missing, with what
 * names it refreshed (a port can change hands, listen() can change the
 * backlog).
 */
static __always_inline struct listen_stats *listen_entry(const struct sock *l, __u32 netns,
							 const struct skc_view *v)
{
	struct listen_key k = { .netns = netns, .port = v->sport };
	struct listen_stats *s = listen_lookup(netns, v->sport);
	__u32 zero = 0;

	if (!s) {
		struct listen_stats *blank = bpf_map_lookup_elem(&listen_zero, &zero);

		if (!blank)
			return NULL;
		/* another CPU may make it first: EEXIST is fine */
		bpf_map_update_elem(&listen_stats, &k, blank, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&listen_stats, &k);
		if (!s) {
			count(CNT_LISTEN_FULL);
			return NULL;
		}
	}
	s->backlog = BPF_CORE_READ(l, sk_max_ack_backlog);
	if (s->sk != (__u64)l) {
		s->sk = (__u64)l;
		s->family = v->family;
		__builtin_memcpy(s->addr, v->saddr, sizeof(s->addr));
		s->inode = BPF_CORE_READ(l, sk_socket, file, f_inode, i_ino);
	}
	return s;
}

/* The entry's listener, if it still is one on that port: its queue can be read. */
static __always_inline const struct sock *listen_sock(const struct listen_stats *s, __u16 port)
{
	const struct sock *l = (const struct sock *)s->sk;

	if (!l || BPF_CORE_READ(l, __sk_common.skc_state) != TCP_LISTEN ||
	    BPF_CORE_READ(l, __sk_common.skc_num) != port)
		return NULL;
	return l;
}

/* State hook: a socket starts listening, stops, or a passive child is established. */
static __always_inline void listen_on_state(const struct sock *sk, __u16 port, int oldstate,
					    int newstate)
{
	struct listen_stats *s;
	struct skc_view v;
	__u32 netns;

	/* most changes are none of these: the netns is read only for the rest */
	if ((newstate != TCP_LISTEN && oldstate != TCP_LISTEN &&
	     (oldstate != TCP_SYN_RECV || newstate != TCP_ESTABLISHED)) ||
	    !listen_wanted(sk->__sk_common.skc_family, port))
		return;
	netns = netns_inum((const struct net *)sk->__sk_common.skc_net.net);
	if (newstate == TCP_LISTEN) {
		if (!skc_view_read(&sk->__sk_common, &v))
			listen_entry(sk, netns, &v);
	} else if (oldstate == TCP_LISTEN) {
		s = listen_lookup(netns, port);
		if (s && s->sk == (__u64)sk)
			s->sk = 0;
	} else if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		s = listen_lookup(netns, port);
		if (s)
			listen_add(&s->completed);
	}
}

/*
 * A request sock's timer armed (v: the request's view): a SYN made it, or
 * a re-arm (after a timeout, or a duplicate SYN). With the SYN hook, the
 * SYN then consumed tells which (last_request); without, the first arming
 * is the one with no timeout and no SYN-ACK retransmitted yet.
 */
static __always_inline void listen_on_request(struct request_sock *req, const struct skc_view *v,
					      __u32 netns)
{
	const struct sock *l = BPF_CORE_READ(req, __req_common.skc_listener);
	struct last_request *last;
	struct listen_stats *s;
	struct skc_view lv;
	__u32 zero = 0;

	if (!listen_wanted(v->family, v->sport))
		return;
	last = bpf_map_lookup_elem(&last_request, &zero);
	if (last) {
		last->netns = netns;
		last->lport = v->sport;
		last->rport = v->dport;
	}
	if (!l || skc_view_read(&l->__sk_common, &lv))
		return;
	s = listen_entry(l, netns, &lv);
	if (!s || listen_syn_hook || BPF_CORE_READ_BITFIELD_PROBED(req, num_timeout) ||
	    BPF_CORE_READ(req, num_retrans))
		return;
	listen_add(&s->requests);
	listen_add(&s->syns);
	listen_queue(s->qsyn, &s->qsum_syn, &s->qmax_syn, BPF_CORE_READ(l, sk_ack_backlog));
}

/* tcp:tcp_retransmit_synack: sk is the listener (a fast-open child's is not one). */
static __always_inline void listen_on_synack_rtx(const struct sock *sk)
{
	__u16 port = sk->__sk_common.skc_num;
	struct listen_stats *s;

	if (sk->__sk_common.skc_state != TCP_LISTEN)
		return;
	s = listen_lookup(netns_inum((const struct net *)sk->__sk_common.skc_net.net), port);
	if (s)
		listen_add(&s->synack_rtx);
}

/* accept() took child sk: the queue it left behind on its listener. */
static __always_inline void listen_on_accept(const struct skc_view *v, __u32 netns)
{
	struct listen_stats *s = listen_lookup(netns, v->sport);
	const struct sock *l;

	if (!s)
		return;
	listen_add(&s->accepts);
	l = listen_sock(s, v->sport);
	if (l)
		listen_queue(s->qaccept, &s->qsum_accept, &s->qmax_accept,
			     BPF_CORE_READ(l, sk_ack_backlog));
}

/* The listener port, netns, peer port and TCP flags of a received segment. */
static __always_inline int skb_tcp_key(const struct sk_buff *skb, __u32 *netns, __u16 *port,
				       __u16 *rport, __u8 *flags)
{
	const unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 off = BPF_CORE_READ(skb, transport_header);
	const struct net_device *dev = BPF_CORE_READ(skb, dev);
	const struct dst_entry *dst;
	__u8 th[14];

	/* TCP has cleared skb->dev by then: the input route's device names the netns */
	if (!dev) {
		dst = (const void *)(BPF_CORE_READ(skb, _skb_refdst) & ~SKB_DST_NOREF);
		dev = dst ? BPF_CORE_READ(dst, dev) : NULL;
	}
	if (!dev || bpf_probe_read_kernel(th, sizeof(th), head + off))
		return -1;
	*netns = netns_inum_probed(BPF_CORE_READ(dev, nd_net.net));
	*rport = th[0] << 8 | th[1];
	*port = th[2] << 8 | th[3];
	*flags = th[13];
	return 0;
}

/*
 * skb:consume_skb from tcp_rcv_state_process: a SYN a listener took, made
 * a request of (then its timer armed just before, on this CPU) or not:
 * dropped with the accept queue full (the kernel's ListenOverflows), or the
 * SYN queue full (a syncookie where they are on, else a drop).
 */
static __always_inline void listen_on_syn(const struct sk_buff *skb)
{
	struct last_request *last;
	struct listen_stats *s;
	const struct sock *l;
	__u16 port, rport;
	__u32 netns, q, max, zero = 0;
	__u8 flags;

	if (skb_tcp_key(skb, &netns, &port, &rport, &flags) ||
	    (flags & (TCPF_SYN | TCPF_ACK)) != TCPF_SYN)
		return;
	s = listen_lookup(netns, port);
	if (!s)
		return;
	listen_add(&s->syns);
	l = listen_sock(s, port);
	if (!l)
		return;
	q = BPF_CORE_READ(l, sk_ack_backlog);
	max = BPF_CORE_READ(l, sk_max_ack_backlog);
	listen_queue(s->qsyn, &s->qsum_syn, &s->qmax_syn, q);
	last = bpf_map_lookup_elem(&last_request, &zero);
	if (last && last->netns == netns && last->lport == port && last->rport == rport) {
		last->netns = 0;
		listen_add(&s->requests); /* it made a request sock */
		return;
	}
	if (q > max) {
		listen_add(&s->overflow_syn);
	} else if (BPF_CORE_READ((const struct inet_connection_sock *)l,
				 icsk_accept_queue.qlen.counter) >= max) {
		if (BPF_CORE_READ(l, __sk_common.skc_net.net, ipv4.sysctl_tcp_syncookies))
			listen_add(&s->syncookies);
		else
			listen_add(&s->synq_drops);
	}
}

/* skb:kfree_skb with TCP_LISTEN_OVERFLOW: a final ACK dropped, the accept queue full. */
static __always_inline void listen_on_ack_overflow(const struct sk_buff *skb)
{
	struct listen_stats *s;
	__u16 port, rport;
	__u32 netns;
	__u8 flags;

	if (skb_tcp_key(skb, &netns, &port, &rport, &flags))
		return;
	s = listen_lookup(netns, port);
	if (s)
		listen_add(&s->overflow_ack);
}

#endif /* __LISTENERS_BPF_H */
