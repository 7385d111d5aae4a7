/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tuples.h - endpoints for synthetic events, and the event builders that use
 * them, shared by the table, aggregation and replay tests.
 */
#ifndef __TUPLES_H
#define __TUPLES_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/types.h>

#include "tcpphase.h"

/* An endpoint's 4-tuple as BPF reports it: saddr/sport are the local side. */
struct tup {
	uint8_t family;
	uint8_t laddr[16];
	uint8_t raddr[16];
	uint16_t lport;
	uint16_t rport;
};

static const struct tup CLI = { AF_INET, { 10, 0, 0, 1 }, { 10, 0, 0, 2 }, 40000, 80 };

/* Give e the endpoint's family, addresses and ports. */
static inline void set_tup(struct event *e, const struct tup *tp)
{
	e->family = tp->family;
	memcpy(e->saddr, tp->laddr, sizeof(e->saddr));
	memcpy(e->daddr, tp->raddr, sizeof(e->daddr));
	e->sport = tp->lport;
	e->dport = tp->rport;
}

/* The event ran in the task's own system call: pid/comm are its. */
static inline struct event proc(struct event e, uint32_t pid, const char *comm)
{
	e.flags |= EVF_PROC_CTX;
	e.pid = pid;
	strncpy(e.comm, comm, sizeof(e.comm) - 1);
	return e;
}

#endif /* __TUPLES_H */
