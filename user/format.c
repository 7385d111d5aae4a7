// SPDX-License-Identifier: GPL-2.0
/*
 * format.c - text forms shared by every output. The tables, the CSV writers
 * and the summaries all name states, addresses and times the same way; the
 * rules live here so that they are unit-tested once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "format.h"

static const char *const state_names[] = {
	[1] = "ESTABLISHED", [2] = "SYN_SENT",	[3] = "SYN_RECV", [4] = "FIN_WAIT1",
	[5] = "FIN_WAIT2",   [6] = "TIME_WAIT", [7] = "CLOSE",	  [8] = "CLOSE_WAIT",
	[9] = "LAST_ACK",    [10] = "LISTEN",	[11] = "CLOSING", [12] = "NEW_SYN_RECV",
};

const char *state_name(int n)
{
	if (n <= 0 || n >= (int)(sizeof(state_names) / sizeof(state_names[0])))
		return "UNKNOWN";
	return state_names[n];
}

/* Dotted quad without printf: glibc's inet_ntop formats IPv4 with sprintf. */
static char *ipv4_text(char *p, const uint8_t *addr)
{
	for (int i = 0; i < 4; i++) {
		unsigned int v = addr[i];

		if (v >= 100)
			*p++ = '0' + v / 100;
		if (v >= 10)
			*p++ = '0' + v / 10 % 10;
		*p++ = '0' + v % 10;
		*p++ = i < 3 ? '.' : '\0';
	}
	return p;
}

const char *format_addr(char *buf, size_t len, int family, const uint8_t *addr)
{
	if (family != AF_INET6 && len >= INET_ADDRSTRLEN)
		ipv4_text(buf, addr);
	else if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *format_rfc3339(char *buf, size_t len, uint64_t wall_ns)
{
	/*
	 * One conversion per second: rows come in bursts of the same second.
	 * Two seconds are kept, for a row's start and its end.
	 */
	static char date[2][24];
	static time_t date_sec[2] = { -1, -1 };
	static int next;
	time_t sec = wall_ns / 1000000000ULL;
	unsigned int us = wall_ns % 1000000000ULL / 1000;
	int d = sec == date_sec[0] ? 0 : sec == date_sec[1] ? 1 : -1;
	struct tm tm;

	if (d < 0) {
		d = next;
		next ^= 1;
		date_sec[d] = -1;
		if (!gmtime_r(&sec, &tm) ||
		    !strftime(date[d], sizeof(date[d]), "%Y-%m-%dT%H:%M:%S", &tm)) {
			snprintf(buf, len, "?");
			return buf;
		}
		date_sec[d] = sec;
	}
	if (len < 28) {
		snprintf(buf, len, "?");
		return buf;
	}
	memcpy(buf, date[d], 19);
	buf[19] = '.';
	for (int i = 25; i >= 20; i--, us /= 10)
		buf[i] = '0' + us % 10;
	buf[26] = 'Z';
	buf[27] = '\0';
	return buf;
}

const char *format_clock(char *buf, size_t len, uint64_t wall_ns)
{
	time_t sec = wall_ns / 1000000000ULL;
	struct tm tm;
	size_t n;

	if (!localtime_r(&sec, &tm) || !(n = strftime(buf, len, "%H:%M:%S", &tm))) {
		snprintf(buf, len, "?");
		return buf;
	}
	snprintf(buf + n, len - n, ".%03u", (unsigned)(wall_ns % 1000000000ULL / 1000000));
	return buf;
}

const char *format_ms(char *buf, size_t len, int64_t us)
{
	if (us < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld.%03lld", (long long)(us / 1000), (long long)(us % 1000));
	return buf;
}

size_t csv_field(char *buf, size_t len, size_t pos, const char *s)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL;

	if (!quote) {
		for (; *s && pos + 1 < len; s++)
			buf[pos++] = *s;
	} else {
		if (pos + 1 < len)
			buf[pos++] = '"';
		/* room for this character (doubled if a quote) and the closing quote */
		for (; *s && pos + 2 + (*s == '"') < len; s++) {
			if (*s == '"')
				buf[pos++] = '"';
			buf[pos++] = *s;
		}
		if (pos + 1 < len)
			buf[pos++] = '"';
	}
	if (len)
		buf[pos < len ? pos : len - 1] = '\0';
	return pos;
}

const char *errno_name(char *buf, size_t len, int err)
{
	/* glibc indexes its table without a range check for some values */
	const char *name = err > 0 && err < 4096 ? strerrorname_np(err) : NULL;

	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%d", err);
	return buf;
}

const char *format_addr_port(char *buf, size_t len, int family, const uint8_t *addr, uint16_t port)
{
	char a[ADDR_STRLEN];

	format_addr(a, sizeof(a), family, addr);
	if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
	return buf;
}

void sb_str(struct strbuf *b, const char *s)
{
	sb_mem(b, s, strlen(s));
}

void sb_mem(struct strbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
		n = b->cap - b->len - 1;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void sb_u64(struct strbuf *b, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp) - 1;

	tmp[i] = '\0';
	do {
		tmp[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	sb_mem(b, tmp + i, sizeof(tmp) - 1 - i);
}

void sb_us(struct strbuf *b, int64_t ns)
{
	if (ns >= 0)
		sb_u64(b, ns / 1000);
}

void sb_csv(struct strbuf *b, const char *s)
{
	b->len = csv_field(b->buf, b->cap, b->len, s);
}

void verror_line(const char *fmt, va_list ap)
{
	fputs("tcpphase: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}
