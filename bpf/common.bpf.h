/* SPDX-License-Identifier: GPL-2.0 */
/*
 * common.bpf.h - helpers every hook uses: the netns inode, loss counters,
 * the rescue tokens, the filters, reading a socket or a tw/request sock.
 */
#ifndef __COMMON_BPF_H
#define __COMMON_BPF_H

/*
 * The inode number of a net namespace. ns.inum shares a cache line with
 * the namespace's reference count, which every socket's creation and
 * release writes: read on each state change, that line bounces between
 * CPUs. Each CPU keeps the last answer, checked by the net's cookie
 * (unique for the namespace's lifetime, on a line nobody writes), so a
 * namespace freed and reallocated at the same address is read afresh.
 */
static __always_inline bool netns_memo_check(struct netns_memo *m, __u64 net, __u64 cookie,
					     __u32 *inum)
{
	if (m->net == net && m->cookie == cookie) {
		*inum = m->inum;
		return true;
	}
	return false;
}

static __always_inline __u32 netns_memo_set(struct netns_memo *m, __u64 net, __u64 cookie,
					    __u32 inum)
{
	m->net = net;
	m->cookie = cookie;
	m->inum = inum;
	return inum;
}

/* From a trusted net pointer (a tp_btf socket's): plain loads. */
static __always_inline __u32 netns_inum(const struct net *net)
{
	__u32 zero = 0, inum;
	struct netns_memo *m = bpf_map_lookup_elem(&netns_memos, &zero);
	__u64 cookie = net->net_cookie;

	if (!m)
		return net->ns.inum;
	if (netns_memo_check(m, (__u64)net, cookie, &inum))
		return inum;
	return netns_memo_set(m, (__u64)net, cookie, net->ns.inum);
}

/* The same from a pointer read out of a tw or request sock. */
static __always_inline __u32 netns_inum_probed(const struct net *net)
{
	__u32 zero = 0, inum;
	struct netns_memo *m = bpf_map_lookup_elem(&netns_memos, &zero);
	__u64 cookie = BPF_CORE_READ(net, net_cookie);

	if (!m)
		return BPF_CORE_READ(net, ns.inum);
	if (netns_memo_check(m, (__u64)net, cookie, &inum))
		return inum;
	return netns_memo_set(m, (__u64)net, cookie, BPF_CORE_READ(net, ns.inum));
}

static __always_inline void count_n(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += n;
}

static __always_inline void count(__u32 idx)
{
	count_n(idx, 1);
}

/* Primary: record that this CPU handled event (obj, what). */
static __always_inline void token_set(__u64 obj, __u32 what)
{
	__u32 zero = 0;
	struct tokens *r = bpf_map_lookup_elem(&tokens, &zero);

	if (r) {
		struct token *t = &r->t[r->next & (TOKENS - 1)];

		t->obj = obj;
		t->what = what;
		r->next++;
	}
}

/*
 * Rescue: true when the primary already handled event (obj, what). The
 * token is consumed: a socket freed and reallocated at the same address on
 * this CPU can repeat a transition, and a stale token must not hide it.
 */
static __always_inline bool token_seen(__u64 obj, __u32 what)
{
	__u32 zero = 0;
	struct tokens *r = bpf_map_lookup_elem(&tokens, &zero);

	if (!r)
		return true;
	for (int i = 0; i < TOKENS; i++) {
		if (r->t[i].obj == obj && r->t[i].what == what) {
			r->t[i].obj = 0;
			return true;
		}
	}
	return false;
}

static __always_inline bool port_in(__u16 port, const volatile __u16 *list, __u32 n)
{
	for (int i = 0; i < MAX_PORTS; i++) {
		if (i >= n)
			break;
		if (list[i] == port)
			return true;
	}
	return false;
}

/* The port and family filters, on host-order ports. */
static __always_inline bool tuple_wanted(__u16 family, __u16 sport, __u16 dport)
{
	if (target_family && family != target_family)
		return false;
	if (n_lports && !port_in(sport, lports, n_lports))
		return false;
	if (n_rports && !port_in(dport, rports, n_rports))
		return false;
	return true;
}

/*
 * What the timer hooks read of a tw or request sock's sock_common, taken in
 * one probe read: a field at a time was ~15 probe reads (a helper call
 * each) per request handled.
 */
struct skc_view {
	__u64 net;
	__u16 family;
	__u16 sport;
	__u16 dport; /* host order */
	__u8 saddr[16];
	__u8 daddr[16];
};

/* The bytes of a sock_common up to the end of its IPv6 source address. */
#define SKC_VIEW_MAX 128

#define SKC_AT(buf, type, field) \
	(*(type *)((buf) + bpf_core_field_offset(struct sock_common, field)))

static __always_inline int skc_view_read(const struct sock_common *skc, struct skc_view *v)
{
	char buf[SKC_VIEW_MAX];
	__u32 end = bpf_core_field_offset(struct sock_common, skc_v6_rcv_saddr) + 16;

	if (end > sizeof(buf) || bpf_probe_read_kernel(buf, end, skc))
		return -1;
	v->net = SKC_AT(buf, __u64, skc_net);
	v->family = SKC_AT(buf, __u16, skc_family);
	v->sport = SKC_AT(buf, __u16, skc_num);
	v->dport = bpf_ntohs(SKC_AT(buf, __u16, skc_dport));
	if (v->family == AF_INET6) {
		__builtin_memcpy(v->saddr,
				 buf + bpf_core_field_offset(struct sock_common, skc_v6_rcv_saddr),
				 16);
		__builtin_memcpy(v->daddr,
				 buf + bpf_core_field_offset(struct sock_common, skc_v6_daddr), 16);
	} else {
		__builtin_memset(v->saddr, 0, sizeof(v->saddr));
		__builtin_memset(v->daddr, 0, sizeof(v->daddr));
		__builtin_memcpy(v->saddr,
				 buf + bpf_core_field_offset(struct sock_common, skc_rcv_saddr), 4);
		__builtin_memcpy(v->daddr,
				 buf + bpf_core_field_offset(struct sock_common, skc_daddr), 4);
	}
	return 0;
}

/* Fill family, netns, ports, addresses of an event from a view. */
static __always_inline void read_common(struct event *e, const struct skc_view *v, __u32 netns)
{
	e->family = v->family;
	e->netns = netns;
	e->cgroup = 0;
	e->sport = v->sport;
	e->dport = v->dport;
	__builtin_memcpy(e->saddr, v->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, v->daddr, sizeof(e->daddr));
}

/*
 * Start an event: every field zero, so that a field struct event gains is
 * zero wherever no hook sets it (never stale ring-buffer bytes), then what
 * every event has.
 */
static __always_inline void event_init(struct event *e, __u8 type, __u64 id, __u64 ts, __u8 flags)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = ts;
	e->type = type;
	e->id = id;
	e->flags = flags;
}

static __always_inline void fill_task(struct event *e)
{
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->flags |= EVF_PROC_CTX;
}

/* Transitions that only a system call makes: the current task owns the socket. */
static __always_inline bool in_process_ctx(int oldstate, int newstate)
{
	return (oldstate == TCP_CLOSE && (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN)) ||
	       (oldstate == TCP_ESTABLISHED && newstate == TCP_FIN_WAIT1) ||
	       (oldstate == TCP_CLOSE_WAIT && newstate == TCP_LAST_ACK) ||
	       (oldstate == TCP_LISTEN && newstate == TCP_CLOSE);
}

static __always_inline __u64 jiffies_to_ktime(__u64 now_ns, unsigned long expires)
{
	__s64 delta = (__s64)(expires - (unsigned long)bpf_jiffies64());

	return now_ns + delta * (__s64)jiffy_ns;
}

/*
 * Family, netns and addresses of a full socket. tp_btf hands us a trusted
 * pointer: plain loads (CO-RE relocated), no probe-read helper calls; this
 * runs for every state change on the host.
 */
static __always_inline void read_sock(struct event *e, const struct sock *sk)
{
	const struct sock_common *skc = &sk->__sk_common;

	e->family = skc->skc_family;
	e->netns = netns_inum(skc->skc_net.net);
	if (e->family == AF_INET6) {
		__builtin_memcpy(e->saddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(e->daddr, &skc->skc_v6_daddr, 16);
	} else {
		__builtin_memset(e->saddr, 0, sizeof(e->saddr));
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
		__builtin_memcpy(e->saddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(e->daddr, &skc->skc_daddr, 4);
	}
}

#endif /* __COMMON_BPF_H */
