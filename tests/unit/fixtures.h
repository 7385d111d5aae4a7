/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fixtures.h - records shared by the unit tests of the sinks (summary,
 * metrics): time units in ns and a finished connection to start from.
 */
#ifndef __FIXTURES_H
#define __FIXTURES_H

#include <string.h>
#include <sys/socket.h>

#include "conntable.h"

#define US 1000LL
#define MS 1000000LL
#define S 1000000000LL

/* A finished active connection: ok handshake, TIME_WAIT expired, no phase timed. */
static inline struct conn mk(void)
{
	struct conn c;

	memset(&c, 0, sizeof(c));
	c.family = AF_INET;
	c.role = ROLE_ACTIVE;
	c.result = RES_OK;
	c.tw_end = TWE_EXPIRED;
	c.pid = 100;
	memcpy(c.comm, "curl", 5);
	c.lport = 40000;
	c.rport = 80;
	c.raddr[0] = 10;
	c.raddr[3] = 1;
	for (int p = 0; p < PH_MAX; p++)
		c.ph[p] = -1;
	return c;
}

#endif /* __FIXTURES_H */
