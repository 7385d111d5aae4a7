/* SPDX-License-Identifier: GPL-2.0 */
/*
 * accept.bpf.h - accept(): which task took a passive socket, and when.
 */
#ifndef __ACCEPT_BPF_H
#define __ACCEPT_BPF_H

/* Layout of the syscalls:sys_exit_* tracepoint record. */
struct sys_exit_args {
	__u64 common;
	long id;
	long ret;
};

/* accept() returned fd: find its socket and say which task took it. */
static __always_inline int handle_accept(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *file;
	struct socket *sock;
	struct sock *sk;
	struct skc_view v;
	struct event *e;

	if (fd < 0)
		return 0;
	if (target_pid && (bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (skc_view_read(&sk->__sk_common, &v) || !tuple_wanted(v.family, v.sport, v.dport))
		return 0;
	if (n_cgroups && !sock_cgroup_wanted(sk))
		return 0;
	if (listen_view)
		listen_on_accept(&v, netns_inum_probed((const struct net *)v.net));
	if (target_pid) {
		__u64 skp = (__u64)sk;
		__u8 one = 1;

		if (bpf_map_update_elem(&pid_socks, &skp, &one, BPF_ANY))
			count(CNT_SCRATCH_FULL);
	}
	if (aggregate) {
		struct sock_slot *s = sock_slot_get((__u64)sk, false);

		/* an accept rides on the socket's record; the first one counts */
		if (s) {
			if (!s->rec.accept_ns) {
				s->rec.accept_ns = bpf_ktime_get_ns();
				s->rec.accept_pid = bpf_get_current_pid_tgid() >> 32;
				bpf_get_current_comm(s->rec.accept_comm,
						     sizeof(s->rec.accept_comm));
			}
			return 0;
		}
	}
	e = event_reserve();
	if (!e)
		return 0;
	event_init(e, EV_ACCEPT, (__u64)sk, bpf_ktime_get_ns(), 0);
	e->oldstate = e->newstate = BPF_CORE_READ(sk, __sk_common.skc_state);
	read_common(e, &v, netns_inum_probed((const struct net *)v.net));
	fill_task(e);
	event_submit(e);
	return 0;
}

#endif /* __ACCEPT_BPF_H */
