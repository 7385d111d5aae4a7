/* SPDX-License-Identifier: GPL-2.0 */
/*
 * format.h - text forms shared by every output: state and result names,
 * addresses, RFC 3339 times, CSV fields. Pure functions, no I/O.
 */
#ifndef __FORMAT_H
#define __FORMAT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
#define TIME_STRLEN 32 /* "2026-11-25T11:52:11.123456Z" */

/* The kernel's name of TCP state n ("ESTABLISHED"...), "UNKNOWN" if out of range. */
const char *state_name(int n);

/* Address bytes (network order) of family AF_INET/AF_INET6 into buf. */
const char *format_addr(char *buf, size_t len, int family, const uint8_t *addr);

/* "1.2.3.4:80" or "[::1]:80"; buf of ADDRPORT_STRLEN never truncates. */
#define ADDRPORT_STRLEN 56
const char *format_addr_port(char *buf, size_t len, int family, const uint8_t *addr, uint16_t port);

/* Wall-clock ns since the epoch as RFC 3339 UTC with microseconds. */
const char *format_rfc3339(char *buf, size_t len, uint64_t wall_ns);

/* Wall-clock ns as HH:MM:SS.mmm (local time) for the live tables. */
const char *format_clock(char *buf, size_t len, uint64_t wall_ns);

/* Microseconds as milliseconds with 3 decimals ("50.123"), "-" when us < 0. */
const char *format_ms(char *buf, size_t len, int64_t us);

/* Append s to buf as an RFC 4180 field (quoted only when needed); returns new length. */
size_t csv_field(char *buf, size_t len, size_t pos, const char *s);

/*
 * A bounded text buffer for the hot output paths (a CSV row per endpoint):
 * appends without printf, never overflow, and keep buf NUL-terminated
 * (what does not fit is dropped).
 */
struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
};

void sb_str(struct strbuf *b, const char *s);
/* n bytes of s (no NUL needed), cut to fit like the others */
void sb_mem(struct strbuf *b, const char *s, size_t n);
/* Inline: a CSV row appends ~60 separators. */
static inline void sb_char(struct strbuf *b, char c)
{
	if (b->len + 1 < b->cap) {
		b->buf[b->len++] = c;
		b->buf[b->len] = '\0';
	}
}
void sb_u64(struct strbuf *b, uint64_t v);
/* v in decimal at p, which has room for 20 digits; returns the end (no NUL). */
char *put_u64(char *p, uint64_t v);
/* A duration in ns as whole microseconds; nothing when ns < 0 (an empty field). */
void sb_us(struct strbuf *b, int64_t ns);

/* Print "tcpphase: <message>" as one line on stderr: every error goes this way. */
void verror_line(const char *fmt, va_list ap);

/* Symbolic errno name ("ECONNREFUSED"), or the number as text. */
const char *errno_name(char *buf, size_t len, int err);

#endif /* __FORMAT_H */
