/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sockdiag.h - the TCP sockets that were already stuck when tracing began:
 * CLOSE_WAIT and FIN_WAIT2 endpoints of this network namespace, read with
 * sock_diag netlink as ss(8) does, with the process that holds each.
 */
#ifndef __SOCKDIAG_H
#define __SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

struct diag_sock {
	uint8_t family;
	uint8_t state; /* TCP_CLOSE_WAIT or TCP_FIN_WAIT2 */
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
	uint32_t inode; /* 0 for an orphan (a FIN_WAIT2 tw sock) */
	uint32_t pid; /* 0 if no process holds it */
	char comm[16];
};

/* *out is malloc'ed (free it), *n entries. 0 or -errno. */
int sockdiag_stuck(struct diag_sock **out, size_t *n);

struct inet_diag_msg;
/* Called for each socket of a dump; non-zero (-errno) stops it. */
typedef int (*sockdiag_fn)(const struct inet_diag_msg *m, void *ctx);
/*
 * One inet_diag dump of family's TCP sockets in the states of mask states
 * (1 << TCP state), on NETLINK_SOCK_DIAG socket fd: each(m, ctx) per
 * socket. 0 or -errno.
 */
int sockdiag_dump(int fd, int family, uint32_t states, sockdiag_fn each, void *ctx);

/*
 * Name the process holding each socket inode (what `ss -p` does: one pass
 * over /proc/<pid>/fd): pids[i] and comms[i] for inodes[i], left as they
 * are (0) where none holds it. 0 or -errno.
 */
int sockdiag_owners(const uint64_t *inodes, size_t n, uint32_t *pids, char (*comms)[TASK_COMM_LEN]);

#endif /* __SOCKDIAG_H */
