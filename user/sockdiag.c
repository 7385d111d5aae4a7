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

static int dump_family(int fd, int family, struct diag_sock **out, size_t *n, size_t *cap)
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
			 .idiag_states = (1 << TS_CLOSE_WAIT) | (1 << TS_FIN_WAIT2) },
	};
	static char buf[32768];

	if (send(fd, &msg, sizeof(msg), 0) < 0)
		return -errno;
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len < 0)
			return -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			struct diag_sock *d;

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EPROTO;
			if (*n == *cap) {
				size_t ncap = *cap ? 2 * *cap : 64;
				void *p = realloc(*out, ncap * sizeof(**out));

				if (!p)
					return -ENOMEM;
				*out = p;
				*cap = ncap;
			}
			d = &(*out)[(*n)++];
			memset(d, 0, sizeof(*d));
			d->family = m->idiag_family;
			d->state = m->idiag_state;
			d->lport = ntohs(m->id.idiag_sport);
			d->rport = ntohs(m->id.idiag_dport);
			memcpy(d->laddr, m->id.idiag_src, family == AF_INET6 ? 16 : 4);
			memcpy(d->raddr, m->id.idiag_dst, family == AF_INET6 ? 16 : 4);
			d->inode = m->idiag_inode;
		}
	}
}

/* Name the owner of each socket inode from /proc/<pid>/fd links. */
static void find_owners(struct diag_sock *s, size_t n)
{
	DIR *proc = opendir("/proc");
	struct dirent *p;

	if (!proc)
		return;
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
				FILE *c;

				if (!s[i].inode || s[i].inode != ino || s[i].pid)
					continue;
				s[i].pid = strtoul(p->d_name, NULL, 10);
				snprintf(path, sizeof(path), "/proc/%s/comm", p->d_name);
				c = fopen(path, "re");
				if (c) {
					if (fgets(s[i].comm, sizeof(s[i].comm), c))
						s[i].comm[strcspn(s[i].comm, "\n")] = '\0';
					fclose(c);
				}
				snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

int sockdiag_stuck(struct diag_sock **out, size_t *n)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	size_t cap = 0;
	int err;

	*out = NULL;
	*n = 0;
	if (fd < 0)
		return -errno;
	err = dump_family(fd, AF_INET, out, n, &cap);
	if (!err)
		err = dump_family(fd, AF_INET6, out, n, &cap);
	close(fd);
	if (err) {
		free(*out);
		*out = NULL;
		*n = 0;
		return err;
	}
	find_owners(*out, *n);
	return 0;
}
