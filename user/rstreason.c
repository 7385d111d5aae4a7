// SPDX-License-Identifier: GPL-2.0
/*
 * rstreason.c - reset reason names and socket kinds (see rstreason.h).
 */
#include <stdio.h>
#include <string.h>

#include <linux/types.h>

#include "rstreason.h"
#include "tcpphase.h"

static char names[RST_REASON_NAMES][RST_REASON_STRLEN];

void rst_reason_set(uint32_t v, const char *name)
{
	if (v < RST_REASON_NAMES && name)
		snprintf(names[v], sizeof(names[v]), "%s", name);
}

void rst_reason_clear(void)
{
	memset(names, 0, sizeof(names));
}

const char *rst_reason_name(uint32_t v, char *buf, size_t len)
{
	if (v == RST_REASON_NONE)
		return "";
	if (v < RST_REASON_NAMES && names[v][0])
		return names[v];
	snprintf(buf, len, "REASON_%u", v);
	return buf;
}

const char *rst_dir_name(int dir)
{
	return dir == RST_SENT ? "sent" : dir == RST_RECEIVED ? "received" : "";
}

int rst_sock_of(int oldstate)
{
	switch (oldstate) {
	case 0:
		return RSOCK_NONE;
	case TS_TIME_WAIT:
		return RSOCK_TIME_WAIT;
	case TS_NEW_SYN_RECV:
		return RSOCK_REQUEST;
	case TS_LISTEN:
		return RSOCK_LISTENER;
	default:
		return RSOCK_ENDPOINT;
	}
}

const char *rst_sock_name(int kind)
{
	static const char *const n[] = { "endpoint", "no_socket", "time_wait", "request",
					 "listener" };

	return kind >= 0 && kind < RSOCK_MAX ? n[kind] : "";
}
