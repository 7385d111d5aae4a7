/* SPDX-License-Identifier: GPL-2.0 */
/* tuples.h - endpoints for synthetic events, shared by the table and replay tests. */
#ifndef __TUPLES_H
#define __TUPLES_H

#include <stdint.h>
#include <sys/socket.h>

/* An endpoint's 4-tuple as BPF reports it: saddr/sport are the local side. */
struct tup {
	uint8_t family;
	uint8_t laddr[16];
	uint8_t raddr[16];
	uint16_t lport;
	uint16_t rport;
};

static const struct tup CLI = { AF_INET, { 10, 0, 0, 1 }, { 10, 0, 0, 2 }, 40000, 80 };

#endif /* __TUPLES_H */
