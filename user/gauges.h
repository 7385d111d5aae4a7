/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gauges.h - how many endpoints are in each TCP state now (the state
 * gauges of --metrics and --summary): the sockets sock_diag shows at start,
 * in every network namespace tcpphase can enter, plus the changes the BPF
 * programs have counted since (map state_gauge).
 */
#ifndef __GAUGES_H
#define __GAUGES_H

#include <stdbool.h>
#include <stdint.h>

#include "tcpphase.h"

struct tracer;

/* The states the gauges show, in the kernel's order (names: format.h state_name()). */
#define GAUGE_STATES                                                                        \
	TS_ESTABLISHED, TS_SYN_SENT, TS_SYN_RECV, TS_FIN_WAIT1, TS_FIN_WAIT2, TS_TIME_WAIT, \
		TS_CLOSE_WAIT, TS_LAST_ACK, TS_LISTEN, TS_CLOSING

/*
 * Count the TCP sockets of every reachable network namespace by state into
 * base[] (request socks as SYN_RECV, tw socks under their substate), with
 * tcpphase's port and family filters. Returns the namespaces read, or
 * -errno when not even our own could be; *denied: those it could not enter
 * (entering one needs CAP_SYS_ADMIN).
 */
int gauges_snapshot(const struct tracer *t, int64_t base[GAUGE_SLOTS], int *denied);
/* base[] plus what the programs counted since: 0 or -errno. */
int gauges_read(struct tracer *t, const int64_t base[GAUGE_SLOTS], int64_t now[GAUGE_SLOTS]);

#endif /* __GAUGES_H */
