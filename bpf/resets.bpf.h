/* SPDX-License-Identifier: GPL-2.0 */
/*
 * resets.bpf.h - TCP resets: who sent or received one, on which socket, and
 * the kernel's reason (tcp:tcp_send_reset's enum sk_rst_reason, where the
 * kernel has the field). Rare: each one is an EV_RST ring-buffer record,
 * aggregating or not, which user space joins to its endpoint by the socket.
 */
#ifndef __RESETS_BPF_H
#define __RESETS_BPF_H

/* Wire offsets: IPv4 and IPv6 source address, TCP source and dest port. */
#define IP4_SADDR 12
#define IP4_DADDR 16
#define IP6_SADDR 8
#define IP6_DADDR 24

/*
 * The tuple of an RST sent for a packet that no socket took: from the
 * packet's headers, reversed (our side is the packet's destination).
 */
static __always_inline int skb_view_read(const struct sk_buff *skb, struct skc_view *v)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u16 ports[2];
	__u8 ver;

	if (!head || bpf_probe_read_kernel(&ver, 1, head + nh))
		return -1;
	__builtin_memset(v->saddr, 0, sizeof(v->saddr));
	__builtin_memset(v->daddr, 0, sizeof(v->daddr));
	if (ver >> 4 == 4) {
		v->family = AF_INET;
		if (bpf_probe_read_kernel(v->saddr, 4, head + nh + IP4_DADDR) ||
		    bpf_probe_read_kernel(v->daddr, 4, head + nh + IP4_SADDR))
			return -1;
	} else if (ver >> 4 == 6) {
		v->family = AF_INET6;
		if (bpf_probe_read_kernel(v->saddr, 16, head + nh + IP6_DADDR) ||
		    bpf_probe_read_kernel(v->daddr, 16, head + nh + IP6_SADDR))
			return -1;
	} else {
		return -1;
	}
	if (bpf_probe_read_kernel(ports, sizeof(ports), head + th))
		return -1;
	v->sport = bpf_ntohs(ports[1]);
	v->dport = bpf_ntohs(ports[0]);
	v->net = (__u64)BPF_CORE_READ(skb, dev, nd_net.net);
	return 0;
}

/*
 * A reset sent (dir RST_SENT, sk may be a full, tw or request sock, or
 * NULL with the packet in skb) or received (RST_RECEIVED, a full socket).
 * sk and skb may be NULL: each is tested before it is read.
 */
static __always_inline int handle_reset(const struct sock *sk, const struct sk_buff *skb,
					__u32 reason, __u8 dir)
{
	struct skc_view v;
	struct event *e;
	__u8 state = 0;
	__u64 id = 0;

	/* (a kernel that takes sk for non-NULL reads NULL as a fault: the packet then) */
	if (sk && !skc_view_read(&sk->__sk_common, &v)) {
		id = (__u64)sk;
		state = BPF_CORE_READ(sk, __sk_common.skc_state);
		/* a full socket just closed has lost skc_num: inet_sport stays */
		if (!v.sport && state != TCP_TIME_WAIT && state != TCP_NEW_SYN_RECV)
			v.sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	} else if (!skb || skb_view_read(skb, &v)) {
		return 0;
	}
	if (!tuple_wanted(v.family, v.sport, v.dport))
		return 0;
	/* -p: only the process's own sockets */
	if (target_pid && (!id || !bpf_map_lookup_elem(&pid_socks, &id)))
		return 0;
	e = event_reserve();
	if (!e)
		return 0;
	event_init(e, EV_RST, id, bpf_ktime_get_ns(), 0);
	e->oldstate = state;
	e->newstate = dir;
	e->retrans = reason;
	read_common(e, &v, v.net ? netns_inum_probed((const struct net *)v.net) : 0);
	event_submit(e);
	return 0;
}

#endif /* __RESETS_BPF_H */
