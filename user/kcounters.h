/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcounters.h - the kernel's own TIME_WAIT counters, shown next to ours so
 * that a user can reconcile them. They are those of tcpphase's network
 * namespace (/proc/net is per netns).
 */
#ifndef __KCOUNTERS_H
#define __KCOUNTERS_H

#include <stdint.h>

struct kcounters {
	uint64_t tw; /* TcpExt TW: tw socks scheduled via the TIME_WAIT path */
	uint64_t tw_killed; /* TcpExt TWKilled: scheduled with the short FIN_WAIT2 path */
	uint64_t tw_recycled; /* TcpExt TWRecycled: connect() reused a tw tuple */
	uint64_t tw_overflow; /* TcpExt TCPTimeWaitOverflow: tw sock not allocated */
	uint64_t tw_live; /* /proc/net/sockstat TCP tw: tw socks alive now */
};

/* 0, or -errno when /proc/net cannot be read. */
int kcounters_read(struct kcounters *k);

#endif /* __KCOUNTERS_H */
