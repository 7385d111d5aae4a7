// SPDX-License-Identifier: GPL-2.0
/*
 * test_json.c - the --json writer and rows: every control byte, quotes,
 * backslashes and bytes that are not UTF-8 give valid JSON (checked by a
 * small validator here, RFC 8259), valid UTF-8 passes as it is, commas and
 * nesting, and each output's JSON keys are its CSV header, in order.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>

#include "fixtures.h"
#include "json.h"
#include "row.h"
#include "sink.h"
#include "summary.h"
#include "unit.h"

/* --- a validator: RFC 8259 JSON text, top-level keys collected --- */

struct jv {
	const unsigned char *p, *end;
	char keys[40][32];
	int n_keys;
};

static bool jv_value(struct jv *v, int depth);

static void jv_ws(struct jv *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r'))
		v->p++;
}

static bool jv_lit(struct jv *v, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(v->end - v->p) < n || memcmp(v->p, lit, n))
		return false;
	v->p += n;
	return true;
}

/* A string: escapes as JSON allows, no raw control byte, valid UTF-8. */
static bool jv_string(struct jv *v, char *out, size_t outlen)
{
	size_t o = 0;

	if (v->p >= v->end || *v->p++ != '"')
		return false;
	while (v->p < v->end && *v->p != '"') {
		unsigned char c = *v->p;

		if (c < 0x20)
			return false;
		if (c == '\\') {
			v->p++;
			if (v->p >= v->end)
				return false;
			if (*v->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (v->p + i >= v->end || !isxdigit(v->p[i]))
						return false;
				v->p += 5;
			} else if (strchr("\"\\/bfnrt", *v->p) && *v->p) {
				v->p++;
			} else {
				return false;
			}
			continue;
		}
		if (c >= 0x80) {
			int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

			if (c < 0xc2 || c > 0xf4 || v->end - v->p < len)
				return false;
			for (int i = 1; i < len; i++)
				if ((v->p[i] & 0xc0) != 0x80)
					return false;
			if ((c == 0xe0 && v->p[1] < 0xa0) || (c == 0xed && v->p[1] > 0x9f) ||
			    (c == 0xf0 && v->p[1] < 0x90) || (c == 0xf4 && v->p[1] > 0x8f))
				return false;
			v->p += len;
			continue;
		}
		if (out && o + 1 < outlen)
			out[o++] = c;
		v->p++;
	}
	if (out)
		out[o] = '\0';
	if (v->p >= v->end)
		return false;
	v->p++;
	return true;
}

static bool jv_number(struct jv *v)
{
	const unsigned char *s = v->p;

	if (v->p < v->end && *v->p == '-')
		v->p++;
	if (v->p >= v->end || !isdigit(*v->p))
		return false;
	if (*v->p == '0' && v->p + 1 < v->end && isdigit(v->p[1]))
		return false; /* no leading zeros */
	while (v->p < v->end && isdigit(*v->p))
		v->p++;
	if (v->p < v->end && *v->p == '.') {
		v->p++;
		if (v->p >= v->end || !isdigit(*v->p))
			return false;
		while (v->p < v->end && isdigit(*v->p))
			v->p++;
	}
	return v->p > s;
}

static bool jv_container(struct jv *v, int depth, bool obj)
{
	char close = obj ? '}' : ']';

	v->p++;
	jv_ws(v);
	if (v->p < v->end && *v->p == close) {
		v->p++;
		return true;
	}
	for (;;) {
		jv_ws(v);
		if (obj) {
			char key[32];

			if (!jv_string(v, key, sizeof(key)))
				return false;
			if (depth == 0 && v->n_keys < 40)
				memcpy(v->keys[v->n_keys++], key, sizeof(key));
			jv_ws(v);
			if (v->p >= v->end || *v->p++ != ':')
				return false;
		}
		if (!jv_value(v, depth + 1))
			return false;
		jv_ws(v);
		if (v->p >= v->end)
			return false;
		if (*v->p == close) {
			v->p++;
			return true;
		}
		if (*v->p++ != ',')
			return false;
	}
}

static bool jv_value(struct jv *v, int depth)
{
	jv_ws(v);
	if (v->p >= v->end || depth > 32)
		return false;
	switch (*v->p) {
	case '{':
		return jv_container(v, depth, true);
	case '[':
		return jv_container(v, depth, false);
	case '"':
		return jv_string(v, NULL, 0);
	case 't':
		return jv_lit(v, "true");
	case 'f':
		return jv_lit(v, "false");
	case 'n':
		return jv_lit(v, "null");
	default:
		return jv_number(v);
	}
}

/* True if s[0..n) is exactly one JSON value (an NDJSON line without its newline). */
static bool json_valid(const char *s, size_t n, struct jv *v)
{
	memset(v, 0, sizeof(*v));
	v->p = (const unsigned char *)s;
	v->end = v->p + n;
	if (!jv_value(v, 0))
		return false;
	jv_ws(v);
	return v->p == v->end;
}

/* --- helpers --- */

/* The JSON string of bytes s[0..n), into out. */
static const char *quoted(const char *s, size_t n, char *out, size_t len)
{
	struct strbuf b = { .buf = out, .cap = len };
	struct json j;

	out[0] = '\0';
	json_init(&j, &b, NULL);
	json_strn(&j, s, n);
	return out;
}

static void test_control_bytes(void)
{
	static const char *const short_esc[32] = {
		['\b'] = "\"\\b\"", ['\f'] = "\"\\f\"", ['\n'] = "\"\\n\"",
		['\r'] = "\"\\r\"", ['\t'] = "\"\\t\"",
	};
	char in[1], out[32], want[32];
	struct jv v;

	for (int c = 0; c < 0x20; c++) {
		in[0] = c;
		quoted(in, 1, out, sizeof(out));
		if (short_esc[c])
			snprintf(want, sizeof(want), "%s", short_esc[c]);
		else
			snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		if (!ASSERT_STREQ(out, want, "control byte") ||
		    !ASSERT_TRUE(json_valid(out, strlen(out), &v), "valid"))
			break;
	}
	in[0] = 0x7f;
	ASSERT_STREQ(quoted(in, 1, out, sizeof(out)), "\"\x7f\"", "DEL as it is");
}

static void test_quotes_backslash(void)
{
	char out[64];

	ASSERT_STREQ(quoted("a\"b", 3, out, sizeof(out)), "\"a\\\"b\"", "quote");
	ASSERT_STREQ(quoted("a\\b", 3, out, sizeof(out)), "\"a\\\\b\"", "backslash");
	ASSERT_STREQ(quoted("\\\"", 2, out, sizeof(out)), "\"\\\\\\\"\"", "both");
	ASSERT_STREQ(quoted("/x", 2, out, sizeof(out)), "\"/x\"", "slash as it is");
	ASSERT_STREQ(quoted("", 0, out, sizeof(out)), "\"\"", "empty");
}

static void test_utf8(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" }, /* U+00E9 */
		{ "\xe2\x82\xac", "\"\xe2\x82\xac\"" }, /* U+20AC */
		{ "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"" }, /* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"" }, /* U+10FFFF */
		{ "\x80", "\"\\ufffd\"" }, /* lone continuation */
		{ "\xff", "\"\\ufffd\"" },
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" }, /* overlong '/' */
		{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" }, /* overlong */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" }, /* surrogate */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* > U+10FFFF */
		{ "a\xe2\x82", "\"a\\ufffd\\ufffd\"" }, /* cut short */
		{ "\xe2\x82x", "\"\\ufffd\\ufffdx\"" },
	};
	char out[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = quoted(cases[i].in, strlen(cases[i].in), out, sizeof(out));

		ASSERT_STREQ(got, cases[i].want, "utf-8");
	}
}

/* Every byte value, and random byte strings: always one valid JSON string. */
static void test_any_bytes_valid(void)
{
	char in[64], out[1024];
	struct jv v;

	for (int c = 0; c < 256; c++) {
		in[0] = c;
		quoted(in, 1, out, sizeof(out));
		if (!ASSERT_TRUE(json_valid(out, strlen(out), &v), "single byte"))
			return;
	}
	srand(19);
	for (int i = 0; i < 20000; i++) {
		size_t n = rand() % sizeof(in);

		for (size_t k = 0; k < n; k++)
			in[k] = rand() % 4 ? rand() : 0x80 | rand(); /* many high bytes */
		quoted(in, n, out, sizeof(out));
		if (!ASSERT_TRUE(json_valid(out, strlen(out), &v), "random bytes")) {
			printf("  at %d\n", i);
			return;
		}
	}
}

static void test_nesting(void)
{
	char out[256] = "";
	struct strbuf b = { .buf = out, .cap = sizeof(out) };
	struct json j;
	struct jv v;

	json_init(&j, &b, NULL);
	json_open(&j, NULL, '{');
	json_kstr(&j, "a", "x");
	json_knull(&j, "n");
	json_kstr(&j, "s", NULL);
	json_open(&j, "arr", '[');
	json_open(&j, NULL, '{');
	json_ku64(&j, "k", 18446744073709551615ULL);
	json_close(&j, '}');
	json_open(&j, NULL, '{');
	json_close(&j, '}');
	json_ks64(&j, NULL, -5);
	json_close(&j, ']');
	json_open(&j, "o", '{');
	json_close(&j, '}');
	json_kdouble(&j, "d", 1.5);
	json_kdouble(&j, "i", 2.0);
	json_kdouble(&j, "nan", NAN);
	json_kbool(&j, "t", true);
	json_kbool(&j, "f", false);
	json_close(&j, '}');
	ASSERT_STREQ(out,
		     "{\"a\":\"x\",\"n\":null,\"s\":null,\"arr\":[{\"k\":18446744073709551615},{},"
		     "-5],\"o\":{},\"d\":1.5,\"i\":2,\"nan\":null,\"t\":true,\"f\":false}",
		     "text");
	ASSERT_TRUE(json_valid(out, strlen(out), &v), "valid");
	ASSERT_FALSE(j.overflow, "no overflow");
}

static void test_buffer_bounds(void)
{
	char small[16] = "", big[3000], *buf = NULL;
	struct strbuf b = { .buf = small, .cap = sizeof(small) };
	size_t len = 0;
	struct json j;
	struct jv v;
	FILE *f;

	/* no FILE: cut, flagged, still NUL-terminated */
	json_init(&j, &b, NULL);
	json_str(&j, "a string longer than sixteen bytes");
	ASSERT_TRUE(j.overflow, "overflow flagged");
	ASSERT_LT(strlen(small), sizeof(small), "terminated");

	/* a FILE: the buffer spills, nothing is lost */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[100] = '"';
	f = open_memstream(&buf, &len);
	if (!ASSERT_OK_PTR(f, "open_memstream"))
		return;
	b.len = 0;
	json_init(&j, &b, f);
	json_open(&j, NULL, '{');
	json_kstr(&j, "long", big);
	json_close(&j, '}');
	json_end_line(&j);
	fclose(f);
	ASSERT_FALSE(j.overflow, "not cut");
	ASSERT_EQ(len, sizeof(big) - 1 + 1 + 11 + 1, "every byte (one escaped) and the newline");
	ASSERT_TRUE(json_valid(buf, len - 1, &v), "valid");
	free(buf);
}

/* --- rows: JSON keys are the CSV header, values typed --- */

/* Output of fn into a malloc'ed string. */
static char *capture(void (*fn)(struct out *o, void *arg), bool json, void *arg)
{
	struct out o = { .csv = !json, .json = json, .wall_offset_ns = 1700000000LL * S };
	char *buf = NULL;
	size_t len = 0;

	o.f = open_memstream(&buf, &len);
	if (!o.f)
		return NULL;
	fn(&o, arg);
	fclose(o.f);
	return buf;
}

static void lc_write(struct out *o, void *arg)
{
	lifecycle_sink.header(o);
	lifecycle_sink.record(o, arg, REC_CLOSED); /* rows: final ones only */
	lifecycle_sink.record(o, arg, REC_FINAL);
}

static void ev_write(struct out *o, void *arg)
{
	events_sink.header(o);
	events_sink.transition(o, arg, NULL, 1500 * US);
	events_sink.transition(o, arg, NULL, -1);
}

/* The CSV header's names against the keys of each JSON line. */
static void check_keys(const char *csv, const char *json, int want_lines)
{
	char header[1024], *save = NULL;
	const char *line = json;
	int lines = 0;
	struct jv v;

	if (!ASSERT_OK_PTR(csv, "csv") || !ASSERT_OK_PTR(json, "json"))
		return;
	snprintf(header, sizeof(header), "%.*s", (int)strcspn(csv, "\n"), csv);
	while (*line) {
		size_t n = strcspn(line, "\n");
		int k = 0;

		if (!ASSERT_TRUE(json_valid(line, n, &v), "valid line"))
			return;
		save = NULL;
		for (char *name = strtok_r(header, ",", &save); name;
		     name = strtok_r(NULL, ",", &save), k++)
			if (!ASSERT_STREQ(v.keys[k], name, "key is the CSV column"))
				return;
		ASSERT_EQ(v.n_keys, k, "as many keys as columns");
		snprintf(header, sizeof(header), "%.*s", (int)strcspn(csv, "\n"), csv);
		line += n + (line[n] == '\n');
		lines++;
	}
	ASSERT_EQ(lines, want_lines, "lines");
}

static void test_record_row(void)
{
	struct conn c = mk();
	char *csv, *json;

	c.ph[PH_HANDSHAKE] = 1234 * US + 567;
	c.ph[PH_TIME_WAIT] = 60 * S;
	c.tx_bytes = 10;
	memcpy(c.comm, "a\"b\\c\x01\xff", 8); /* what a task may name itself */
	csv = capture(lc_write, false, &c);
	json = capture(lc_write, true, &c);
	check_keys(csv, json, 1);
	if (json) {
		ASSERT_TRUE(strstr(json, "\"comm\":\"a\\\"b\\\\c\\u0001\\ufffd\"") != NULL, "comm");
		ASSERT_TRUE(strstr(json, "\"handshake_us\":1234,") != NULL, "number");
		ASSERT_TRUE(strstr(json, "\"accept_wait_us\":null,") != NULL, "absent: null");
		ASSERT_TRUE(strstr(json, "\"closer\":null,") != NULL, "empty string: null");
		ASSERT_TRUE(strstr(json, "\"lport\":40000,") != NULL, "port");
		ASSERT_TRUE(strstr(json, "\"start_time\":\"2023-11-14T22:13:20.000000Z\"") != NULL,
			    "time as in the CSV");
		ASSERT_TRUE(strstr(json, "\"partial\":0,") != NULL, "partial");
		ASSERT_TRUE(strstr(json, "\"rst_reason\":null}\n") != NULL, "last key");
	}
	free(csv);
	free(json);

	c.pid = 0; /* no owner: pid and comm null */
	json = capture(lc_write, true, &c);
	if (ASSERT_OK_PTR(json, "json"))
		ASSERT_TRUE(strstr(json, "\"pid\":null,\"comm\":null,") != NULL, "no owner");
	free(json);
}

static void test_event_row(void)
{
	struct event e = { .ts_ns = S,
			   .type = EV_STATE,
			   .family = AF_INET6,
			   .oldstate = 1,
			   .newstate = 4,
			   .sport = 80,
			   .dport = 5000,
			   .pid = 7,
			   .flags = EVF_PROC_CTX };
	char *csv, *json;

	memcpy(e.comm, "x\ty", 4);
	csv = capture(ev_write, false, &e);
	json = capture(ev_write, true, &e);
	check_keys(csv, json, 2);
	if (json) {
		ASSERT_TRUE(strstr(json, "\"comm\":\"x\\ty\"") != NULL, "tab escaped");
		ASSERT_TRUE(strstr(json, "\"elapsed_us\":1500,") != NULL, "elapsed");
		ASSERT_TRUE(strstr(json, "\"elapsed_us\":null,") != NULL, "first change");
	}
	free(csv);
	free(json);
}

static void stuck_write(struct out *o, void *arg)
{
	struct stuck *s = arg;

	stuck_print(o, o->f, s, 5 * S);
	s->age_ns = -1;
	s->netns = 0;
	stuck_print(o, o->f, s, 5 * S);
}

static void test_stuck_row(void)
{
	const uint8_t la[16] = { 127, 0, 0, 1 }, ra[16] = { 127, 0, 0, 2 };
	struct stuck s = { .state = 8,
			   .age_ns = 2 * S,
			   .pid = 9,
			   .comm = "srv",
			   .netns = 1,
			   .family = AF_INET,
			   .laddr = la,
			   .raddr = ra,
			   .lport = 1,
			   .rport = 2 };
	char header[512], *json, *text;
	struct out o = { .f = NULL };

	o.f = fmemopen(header, sizeof(header), "w");
	if (!ASSERT_OK_PTR(o.f, "fmemopen"))
		return;
	row_csv_header(&stuck_cols, o.f);
	fclose(o.f);
	json = capture(stuck_write, true, &s);
	s.age_ns = 2 * S;
	s.netns = 1;
	check_keys(header, json, 2);
	if (json) {
		ASSERT_TRUE(strstr(json, "\"state\":\"CLOSE_WAIT\",\"stuck_us\":2000000,") != NULL,
			    "stuck");
		ASSERT_TRUE(strstr(json, "\"stuck_us\":null,") != NULL, "age unknown");
		ASSERT_TRUE(strstr(json, "\"netns\":null,") != NULL, "netns unknown");
	}
	free(json);
	o.json = false;
	text = capture(stuck_write, false, &s);
	if (ASSERT_OK_PTR(text, "text"))
		ASSERT_STREQ(text,
			     "STUCK CLOSE_WAIT for 2.0 s: pid 9 srv 127.0.0.1:1 -> 127.0.0.2:2 "
			     "netns 1\n"
			     "STUCK CLOSE_WAIT for ? s (open before tracing): pid 9 srv "
			     "127.0.0.1:1 -> 127.0.0.2:2\n",
			     "text lines as before");
	free(text);
}

static void test_summary_json(void)
{
	struct summary *s = summary_new(BY_COMM, 10);
	struct conn c = mk();
	char *buf = NULL;
	size_t len = 0;
	struct jv v;
	FILE *f;

	if (!ASSERT_OK_PTR(s, "summary_new"))
		return;
	c.ph[PH_HANDSHAKE] = 3 * MS;
	summary_add(s, &c);
	memcpy(c.comm, "q\"\n", 4);
	c.ph[PH_HANDSHAKE] = 5 * MS;
	summary_add(s, &c);
	f = open_memstream(&buf, &len);
	if (!ASSERT_OK_PTR(f, "open_memstream"))
		goto out;
	summary_print_json(s, f, 0, 1700000000LL * S);
	summary_print_json(s, f, 2.5, 1700000000LL * S);
	fclose(f);
	ASSERT_EQ(len > 0 ? buf[len - 1] : 0, '\n', "ends a line");
	if (ASSERT_TRUE(strchr(buf, '\n') < buf + len - 1, "two lines")) {
		size_t n = strcspn(buf, "\n");

		ASSERT_TRUE(json_valid(buf, n, &v), "valid");
		ASSERT_TRUE(json_valid(buf + n + 1, len - n - 2, &v), "second valid");
		ASSERT_EQ(v.n_keys, 11, "top-level keys");
		ASSERT_STREQ(v.keys[0], "time", "time first");
	}
	ASSERT_TRUE(strstr(buf, "\"interval_s\":null") != NULL, "no interval");
	ASSERT_TRUE(strstr(buf, "\"interval_s\":2.5") != NULL, "interval");
	ASSERT_TRUE(strstr(buf, "{\"phase\":\"handshake active\",\"count\":2,") != NULL, "phase");
	ASSERT_TRUE(strstr(buf, "\"max_us\":5000,") != NULL, "max in us");
	ASSERT_TRUE(strstr(buf, "\"group\":\"q\\\"\\n\"") != NULL, "group label escaped");
	ASSERT_TRUE(strstr(buf, "\"by\":\"comm\",\"groups_total\":2,") != NULL, "groups");
out:
	free(buf);
	summary_free(s);
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_control_bytes);
	RUN_TEST(test_quotes_backslash);
	RUN_TEST(test_utf8);
	RUN_TEST(test_any_bytes_valid);
	RUN_TEST(test_nesting);
	RUN_TEST(test_buffer_bounds);
	RUN_TEST(test_record_row);
	RUN_TEST(test_event_row);
	RUN_TEST(test_stuck_row);
	RUN_TEST(test_summary_json);
	return unit_summary();
}
