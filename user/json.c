// SPDX-License-Identifier: GPL-2.0
/*
 * json.c - the JSON writer of --json (see json.h). Valid UTF-8 passes
 * through as it is; each byte that does not start a valid sequence (RFC 3629:
 * no overlong forms, no surrogates, nothing past U+10FFFF) becomes U+FFFD,
 * as a comm is whatever bytes a task put there.
 */
#include <math.h>
#include <string.h>

#include "json.h"

void json_init(struct json *j, struct strbuf *b, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->b = b;
	j->f = f;
	j->first[0] = true;
}

/* Append n bytes, writing the buffer out first when they do not fit. */
static void put(struct json *j, const char *s, size_t n)
{
	struct strbuf *b = j->b;

	if (b->len + n + 1 > b->cap) {
		if (!j->f) {
			j->overflow = true;
		} else {
			fwrite(b->buf, 1, b->len, j->f);
			b->len = 0;
			b->buf[0] = '\0';
			if (n + 1 > b->cap) {
				fwrite(s, 1, n, j->f);
				return;
			}
		}
	}
	sb_mem(b, s, n);
}

static void putc_(struct json *j, char c)
{
	put(j, &c, 1);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	/* the second byte's range rules out overlongs, surrogates, > U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void json_strn(struct json *j, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	putc_(j, '"');
	while (i < n) {
		unsigned char c = p[i];
		size_t len;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		if (c >= 0x80 && (len = utf8_len(p + i, n - i))) {
			i += len;
			run += len;
			continue;
		}
		put(j, (const char *)p + i - run, run);
		run = 0;
		i++;
		switch (c) {
		case '"':
			put(j, "\\\"", 2);
			break;
		case '\\':
			put(j, "\\\\", 2);
			break;
		case '\b':
			put(j, "\\b", 2);
			break;
		case '\f':
			put(j, "\\f", 2);
			break;
		case '\n':
			put(j, "\\n", 2);
			break;
		case '\r':
			put(j, "\\r", 2);
			break;
		case '\t':
			put(j, "\\t", 2);
			break;
		default:
			if (c < 0x20) {
				char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

				put(j, u, 6);
			} else {
				put(j, "\\ufffd", 6); /* not valid UTF-8 */
			}
			break;
		}
	}
	put(j, (const char *)p + i - run, run);
	putc_(j, '"');
}

void json_str(struct json *j, const char *s)
{
	json_strn(j, s, strlen(s));
}

void json_key(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		putc_(j, ',');
	j->first[j->depth] = false;
	if (key) {
		json_str(j, key);
		putc_(j, ':');
	}
}

void json_kstr(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	if (s)
		json_str(j, s);
	else
		put(j, "null", 4);
}

void json_ku64(struct json *j, const char *key, uint64_t v)
{
	char tmp[24];
	struct strbuf t = { .buf = tmp, .cap = sizeof(tmp) };

	json_key(j, key);
	sb_u64(&t, v);
	put(j, t.buf, t.len);
}

void json_ks64(struct json *j, const char *key, int64_t v)
{
	char tmp[24];
	struct strbuf t = { .buf = tmp, .cap = sizeof(tmp) };

	json_key(j, key);
	if (v < 0)
		sb_char(&t, '-');
	sb_u64(&t, v < 0 ? -(uint64_t)v : (uint64_t)v);
	put(j, t.buf, t.len);
}

void json_kdouble(struct json *j, const char *key, double v)
{
	char tmp[64];
	int n;

	json_key(j, key);
	if (!isfinite(v)) {
		put(j, "null", 4);
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.3f", v);
	/* "1.500" -> "1.5", "2.000" -> "2" */
	while (n > 0 && tmp[n - 1] == '0')
		n--;
	if (n > 0 && tmp[n - 1] == '.')
		n--;
	put(j, tmp, n);
}

void json_knull(struct json *j, const char *key)
{
	json_key(j, key);
	put(j, "null", 4);
}

void json_kbool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

void json_open(struct json *j, const char *key, char brace)
{
	if (j->depth > 0)
		json_key(j, key);
	putc_(j, brace);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

void json_close(struct json *j, char brace)
{
	putc_(j, brace);
	if (j->depth > 0)
		j->depth--;
}

void json_end_line(struct json *j)
{
	putc_(j, '\n');
	j->depth = 0;
	j->first[0] = true;
	if (j->f) {
		fwrite(j->b->buf, 1, j->b->len, j->f);
		j->b->len = 0;
		j->b->buf[0] = '\0';
	}
}
