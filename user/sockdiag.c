// SPDX-License-Identifier: GPL-2.0
/*
 * sockdiag.c - one inet_diag dump per address family (NETLINK_SOCK_DIAG,
 * TCP, states CLOSE_WAIT|FIN_WAIT2), then one pass over /proc/<pid>/fd to
 * find which process holds each socket inode (what `ss -p` does). Only at
 * start-up, and only with --stuck.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockdiag.h"

#define TS_FIN_WAIT2 5
#define TS_CLOSE_WAIT 8

int sockdiag_dump(int fd, int family, uint32_t states, sockdiag_fn each, void *ctx)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg),
			 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.req = { .sdiag_family = family,
			 .sdiag_protocol = IPPROTO_TCP,
			 .idiag_states = states },
	};
	static char buf[32768];

	if (send(fd, &msg, sizeof(msg), 0) < 0)
		return -errno;
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;
		int err;

		if (len < 0)
			return -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EPROTO;
			err = each(NLMSG_DATA(h), ctx);
			if (err)
				return err;
		}
	}
}

/* The stuck sockets found so far (a growing array). */
struct stuck_list {
	struct diag_sock *s;
	size_t n, cap;
};

static int add_stuck(const struct inet_diag_msg *m, void *ctx)
{
	struct stuck_list *l = ctx;
	int alen = m->idiag_family == AF_INET6 ? 16 : 4;
	struct diag_sock *d;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? 2 * l->cap : 64;
		void *p = realloc(l->s, ncap * sizeof(*l->s));

		if (!p)
			return -ENOMEM;
		l->s = p;
		l->cap = ncap;
	}
	d = &l->s[l->n++];
	memset(d, 0, sizeof(*d));
	d->family = m->idiag_family;
	d->state = m->idiag_state;
	d->lport = ntohs(m->id.idiag_sport);
	d->rport = ntohs(m->id.idiag_dport);
	memcpy(d->laddr, m->id.idiag_src, alen);
	memcpy(d->raddr, m->id.idiag_dst, alen);
	d->inode = m->idiag_inode;
	return 0;
}

int sockdiag_owners(const uint64_t *inodes, size_t n, uint32_t *pids, char (*comms)[TASK_COMM_LEN])
{
	DIR *proc = opendir("/proc");
	struct dirent *p;

	if (!proc)
		return -errno;
	while ((p = readdir(proc))) {
		char path[300], link[64];
		struct dirent *f;
		DIR *fds;

		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((f = readdir(fds))) {
			char fdpath[600];
			unsigned long ino;
			ssize_t len;

			snprintf(fdpath, sizeof(fdpath), "%s/%s", path, f->d_name);
			len = readlink(fdpath, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			if (sscanf(link, "socket:[%lu]", &ino) != 1)
				continue;
			for (size_t i = 0; i < n; i++) {
				char commpath[300];
				FILE *c;

				if (!inodes[i] || inodes[i] != ino || pids[i])
					continue;
				pids[i] = strtoul(p->d_name, NULL, 10);
				snprintf(commpath, sizeof(commpath), "/proc/%s/comm", p->d_name);
				c = fopen(commpath, "re");
				if (c) {
					if (fgets(comms[i], TASK_COMM_LEN, c))
						comms[i][strcspn(comms[i], "\n")] = '\0';
					fclose(c);
				}
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return 0;
}

/* Name the owner of each stuck socket from /proc/<pid>/fd links. */
static void find_owners(struct diag_sock *s, size_t n)
{
	uint64_t *inodes = calloc(n ? n : 1, sizeof(*inodes));
	uint32_t *pids = calloc(n ? n : 1, sizeof(*pids));
	char(*comms)[TASK_COMM_LEN] = calloc(n ? n : 1, sizeof(*comms));

	if (inodes && pids && comms) {
		for (size_t i = 0; i < n; i++)
			inodes[i] = s[i].inode;
		sockdiag_owners(inodes, n, pids, comms);
		for (size_t i = 0; i < n; i++) {
			s[i].pid = pids[i];
			memcpy(s[i].comm, comms[i], sizeof(s[i].comm));
		}
	}
	free(inodes);
	free(pids);
	free(comms);
}

int sockdiag_stuck(struct diag_sock **out, size_t *n)
{
	const uint32_t states = (1 << TS_CLOSE_WAIT) | (1 << TS_FIN_WAIT2);
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	struct stuck_list l = { 0 };
	int err;

	*out = NULL;
	*n = 0;
	if (fd < 0)
		return -errno;
	err = sockdiag_dump(fd, AF_INET, states, add_stuck, &l);
	if (!err)
		err = sockdiag_dump(fd, AF_INET6, states, add_stuck, &l);
	close(fd);
	if (err) {
		free(l.s);
		return err;
	}
	find_owners(l.s, l.n);
	*out = l.s;
	*n = l.n;
	return 0;
}
