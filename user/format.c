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

/* "00".."99": two digits per division, half the divisions of one at a time */
static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324"
				  "25262728293031323334353637383940414243444546474849"
				  "50515253545556575859606162636465666768697071727374"
				  "75767778798081828384858687888990919293949596979899";

/* Writes v's n digits (n >= 1) backwards from end. */
static void put_digits(char *end, uint64_t v, int n)
{
	for (; n >= 2; n -= 2, v /= 100) {
		end -= 2;
		memcpy(end, &digit_pairs[2 * (v % 100)], 2);
	}
	if (n)
		end[-1] = '0' + v;
}

/*
 * How many digits v has in decimal (0 has one), without dividing: from its
 * bit length (log10(2) ~ 1233 / 4096), corrected by one power of ten.
 */
static int n_digits(uint64_t v)
{
	static const uint64_t pow10[20] = {
		1ULL,
		10ULL,
		100ULL,
		1000ULL,
		10000ULL,
		100000ULL,
		1000000ULL,
		10000000ULL,
		100000000ULL,
		1000000000ULL,
		10000000000ULL,
		100000000000ULL,
		1000000000000ULL,
		10000000000000ULL,
		100000000000000ULL,
		1000000000000000ULL,
		10000000000000000ULL,
		100000000000000000ULL,
		1000000000000000000ULL,
		10000000000000000000ULL,
	};
	uint64_t x = v | 1;
	int t = (64 - __builtin_clzll(x)) * 1233 >> 12;

	return t + 1 - (x < pow10[t]);
}

/*
 * The proleptic Gregorian date of day z since 1970-01-01, by arithmetic on
 * 400-year eras starting on March 1 (so that a leap day ends its year),
 * without gmtime_r and strftime: every row has two times.
 */
static void date_of_day(uint64_t z, unsigned int *y, unsigned int *m, unsigned int *d)
{
	uint64_t days = z + 719468; /* days since 0000-03-01 */
	uint64_t era = days / 146097;
	unsigned int doe = days - era * 146097; /* day of era, 0..146096 */
	unsigned int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned int doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* from March 1 */
	unsigned int mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = era * 400 + yoe + (*m <= 2);
}

const char *format_rfc3339(char *buf, size_t len, uint64_t wall_ns)
{
	uint64_t sec = wall_ns / 1000000000ULL, day = sec / 86400;
	unsigned int tod = sec % 86400, us = wall_ns % 1000000000ULL / 1000, y, m, d;
	static char date[11] = "YYYY-MM-DDT";
	static uint64_t date_day = UINT64_MAX;

	if (len < 28) {
		snprintf(buf, len, "?");
		return buf;
	}
	/* the date of the last day asked for is kept: rows come in days */
	if (day != date_day) {
		/* u64 ns end in 2554: the year always has four digits */
		date_of_day(day, &y, &m, &d);
		put_digits(date + 4, y, 4);
		put_digits(date + 7, m, 2);
		put_digits(date + 10, d, 2);
		date_day = day;
	}
	memcpy(buf, date, 11);
	memcpy(buf + 11, "HH:MM:SS.", 9);
	put_digits(buf + 13, tod / 3600, 2);
	put_digits(buf + 16, tod / 60 % 60, 2);
	put_digits(buf + 19, tod % 60, 2);
	put_digits(buf + 26, us, 6);
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

/* The quoted form of csv_field: s has a character that needs it. */
static size_t csv_quoted(char *buf, size_t len, size_t pos, const char *s)
{
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
	return pos;
}

/*
 * One pass for the common case, a field that needs no quotes (every row
 * has a dozen: strpbrk first and a copy after cost twice as much); the
 * quoted form starts over.
 */
size_t csv_field(char *buf, size_t len, size_t pos, const char *s)
{
	size_t start = pos;

	for (const char *q = s; *q; q++) {
		char ch = *q;

		if (ch == ',' || ch == '"' || ch == '\r' || ch == '\n') {
			pos = csv_quoted(buf, len, start, s);
			break;
		}
		if (pos + 1 < len)
			buf[pos++] = ch;
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

char *put_u64(char *p, uint64_t v)
{
	int n;

	if (v < 10) { /* a row's counts are mostly 0 */
		*p = '0' + v;
		return p + 1;
	}
	n = n_digits(v);
	put_digits(p + n, v, n);
	return p + n;
}

/* Straight into the buffer: a row has a dozen numbers. */
void sb_u64(struct strbuf *b, uint64_t v)
{
	char tmp[20];

	if (b->len + 20 < b->cap) {
		b->len = put_u64(b->buf + b->len, v) - b->buf;
		b->buf[b->len] = '\0';
		return;
	}
	sb_mem(b, tmp, put_u64(tmp, v) - tmp); /* cut to fit, like the others */
}

void sb_us(struct strbuf *b, int64_t ns)
{
	if (ns >= 0)
		sb_u64(b, ns / 1000);
}

void verror_line(const char *fmt, va_list ap)
{
	fputs("tcpphase: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}
