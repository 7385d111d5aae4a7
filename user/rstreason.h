/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rstreason.h - the names of the kernel's enum sk_rst_reason values, as the
 * running kernel's BTF gives them (the loader fills the table: names are
 * never assumed from a kernel version), and what tcpphase calls the kinds
 * of socket a reset comes from.
 */
#ifndef __RSTREASON_H
#define __RSTREASON_H

#include <stddef.h>
#include <stdint.h>

#define RST_REASON_NAMES 64 /* values past this are shown by number */
#define RST_REASON_STRLEN 48

/* Name value v (the enumerator with its SK_RST_REASON_ prefix cut off). */
void rst_reason_set(uint32_t v, const char *name);
/* Forget every name. */
void rst_reason_clear(void);
/*
 * The name of reason v: "" for RST_REASON_NONE, the kernel's name, else
 * "REASON_<v>" (a value the BTF did not name). buf: RST_REASON_STRLEN.
 */
const char *rst_reason_name(uint32_t v, char *buf, size_t len);
/* "sent", "received" or "" for RST_SENT, RST_RECEIVED, other. */
const char *rst_dir_name(int dir);

/* Which socket a reset belongs to, from its EV_RST's oldstate. */
enum rst_sock {
	RSOCK_ENDPOINT, /* a full socket: one of the endpoints tcpphase follows */
	RSOCK_NONE, /* no socket: a packet for a closed port */
	RSOCK_TIME_WAIT, /* a TIME_WAIT sock */
	RSOCK_REQUEST, /* a request sock (a handshake in progress) */
	RSOCK_LISTENER, /* a listening socket */
	RSOCK_MAX,
};

int rst_sock_of(int oldstate);
const char *rst_sock_name(int kind);

#endif /* __RSTREASON_H */
