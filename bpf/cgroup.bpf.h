/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroup.bpf.h - the cgroup (v2) a socket belongs to: the one it was
 * created in, which the kernel keeps on the socket (sk->sk_cgrp_data; a
 * passive socket inherits its listener's), so that a transition in
 * softirq is never put on whatever task was on the CPU. Its id is the
 * kernfs node id, the inode number of the cgroup's directory. And the
 * --cgroup filter: a socket whose cgroup is, or is below, one of the
 * cgroups given.
 *
 * Kernel variance (CO-RE, probed at load): since 5.15 (8520e224f547
 * "bpf, cgroups: Fix cgroup v2 fallback on v1/v2 mixed mode") struct
 * sock_cgroup_data holds the cgroup pointer; before, a u64 'val' that is
 * the pointer unless its low bits say net_cls/net_prio data took it (the
 * socket is then counted to the root). Since 6.0 (7f203bc89eb6 "cgroup:
 * Replace cgroup->ancestor_ids[] with ->ancestors[]") a cgroup lists its
 * ancestors' pointers; before, their ids.
 */
#ifndef __CGROUP_BPF_H
#define __CGROUP_BPF_H

/* --cgroup: the cgroups' ids and their depths below the root (root: 0). */
const volatile __u64 cgroup_ids[MAX_CGROUPS] = {};
const volatile __u32 cgroup_levels[MAX_CGROUPS] = {};
const volatile __u32 n_cgroups = 0;

/*
 * With --cgroup: the tw socks of the sockets kept, so that the TIME_WAIT
 * of the others costs nothing further (sized to 1 entry without it).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_tws SEC(".maps");

struct sock_cgroup_data___pre515 {
	__u64 val;
} __attribute__((preserve_access_index));

struct sock___pre515 {
	struct sock_cgroup_data___pre515 sk_cgrp_data;
} __attribute__((preserve_access_index));

struct cgroup___pre60 {
	__u64 ancestor_ids[0];
} __attribute__((preserve_access_index));

#define CGROUP_ROOT_ID 1

/* The socket's cgroup, as a plain number (0: none); probe reads. */
static __always_inline __u64 sock_cgroup_ptr(const struct sock *sk)
{
	__u64 v = 0;

	if (bpf_core_field_exists(struct sock_cgroup_data, cgroup)) {
		bpf_core_read(&v, sizeof(v), &sk->sk_cgrp_data.cgroup);
		return v;
	}
	bpf_core_read(&v, sizeof(v), &((struct sock___pre515 *)sk)->sk_cgrp_data.val);
	return v & 3 ? 0 : v;
}

/*
 * The cgroup id of a socket from a tp_btf (trusted) pointer: plain loads,
 * no helper call on 5.15+. Read once per socket (see agg_state).
 */
static __always_inline __u64 sock_cgroup_id(const struct sock *sk)
{
	struct cgroup *cg;

	if (bpf_core_field_exists(struct sock_cgroup_data, cgroup)) {
		cg = sk->sk_cgrp_data.cgroup;
		return cg ? cg->kn->id : 0;
	}
	cg = (struct cgroup *)sock_cgroup_ptr(sk);
	return cg ? BPF_CORE_READ(cg, kn, id) : CGROUP_ROOT_ID;
}

/* The id of cg's ancestor at depth level (cg's own at its own depth). */
static __always_inline __u64 cgroup_ancestor_id(__u64 cg, __u32 level)
{
	__u64 a = 0;

	if (bpf_core_field_exists(struct cgroup, ancestors)) {
		__u64 at = cg + bpf_core_field_offset(struct cgroup, ancestors) + level * 8ULL;

		if (bpf_probe_read_kernel(&a, sizeof(a), (void *)at) || !a)
			return 0;
		return BPF_CORE_READ((struct cgroup *)a, kn, id);
	}
	bpf_probe_read_kernel(&a, sizeof(a),
			      (void *)(cg +
				       bpf_core_field_offset(struct cgroup___pre60, ancestor_ids) +
				       level * 8ULL));
	return a;
}

/* --cgroup: the socket is in one of the cgroups given or below one. */
static __always_inline bool sock_cgroup_wanted(const struct sock *sk)
{
	__u64 cg = sock_cgroup_ptr(sk);
	__u32 level;

	if (!cg)
		return false;
	level = BPF_CORE_READ((struct cgroup *)cg, level);
	for (int i = 0; i < MAX_CGROUPS; i++) {
		if (i >= n_cgroups)
			break;
		if (cgroup_levels[i] <= level &&
		    cgroup_ancestor_id(cg, cgroup_levels[i]) == cgroup_ids[i])
			return true;
	}
	return false;
}

/* --cgroup: a tw sock of a socket kept (its first arming is sent with it). */
static __always_inline void cgroup_tw_keep(__u64 tw)
{
	__u8 one = 1;

	if (n_cgroups && tw)
		bpf_map_update_elem(&cgroup_tws, &tw, &one, BPF_ANY);
}

static __always_inline bool cgroup_tw_wanted(__u64 tw, int type)
{
	bool kept;

	if (!n_cgroups)
		return true;
	kept = bpf_map_lookup_elem(&cgroup_tws, &tw) != NULL;
	if (kept && type == EV_TW_EXPIRE)
		bpf_map_delete_elem(&cgroup_tws, &tw);
	return kept;
}

#endif /* __CGROUP_BPF_H */
