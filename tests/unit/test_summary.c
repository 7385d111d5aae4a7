// SPDX-License-Identifier: GPL-2.0
/*
 * test_summary.c - the aggregate summary with synthetic records: which
 * phases count, percentiles of known distributions within the stated
 * error (1/32 of the value, or 0.5 us below 16 us), the bcc-style log2
 * histogram as exact text, result and TIME_WAIT-end counts, --by grouping,
 * its ordering and bound, and the 80-column layout.
 */
#include <math.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "cgroups.h"
#include "summary.h"
#include "unit.h"

#include "fixtures.h"

/* The whole summary_print output, malloc'ed. */
static char *print_str(const struct summary *s, double interval)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	summary_print(s, f, interval);
	fclose(f);
	return buf;
}

static void test_by_parse(void)
{
	static const struct {
		const char *s;
		enum summary_by by;
	} ok[] = {
		{ "remote", BY_REMOTE },     { "lport", BY_LPORT }, { "rport", BY_RPORT },
		{ "comm", BY_COMM },	     { "netns", BY_NETNS }, { "cgroup", BY_CGROUP },
		{ "workload", BY_WORKLOAD },
	};
	static const char *const bad[] = { "",	    "Remote",	 "remote ", "pid", "lport,rport",
					   "raddr", "workloads", "cgroup2" };
	enum summary_by by;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		by = BY_NONE;
		ASSERT_OK(summary_by_parse(ok[i].s, &by), ok[i].s);
		ASSERT_EQ(by, ok[i].by, ok[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		by = BY_REMOTE;
		ASSERT_ERR(summary_by_parse(bad[i], &by), bad[i]);
		ASSERT_EQ(by, BY_REMOTE, "untouched on error");
	}
	ASSERT_ERR(summary_by_parse(NULL, &by), "NULL");
}

static void test_phase_selection(void)
{
	struct conn c;

	if (SUBTEST("handshake by role")) {
		c = mk();
		c.ph[PH_HANDSHAKE] = 5 * MS;
		ASSERT_EQ(summary_phase_ns(&c, SP_HS_ACTIVE), 5 * MS, "active");
		ASSERT_EQ(summary_phase_ns(&c, SP_HS_PASSIVE), -1, "not passive");
		c.role = ROLE_PASSIVE;
		ASSERT_EQ(summary_phase_ns(&c, SP_HS_PASSIVE), 5 * MS, "passive");
		ASSERT_EQ(summary_phase_ns(&c, SP_HS_ACTIVE), -1, "not active");
		c.role = ROLE_UNKNOWN;
		ASSERT_EQ(summary_phase_ns(&c, SP_HS_ACTIVE), -1, "unknown role");
		ASSERT_EQ(summary_phase_ns(&c, SP_HS_PASSIVE), -1, "unknown role");
	}
	if (SUBTEST("failed handshakes are counted, not timed")) {
		c = mk();
		c.ph[PH_HANDSHAKE] = 3 * S;
		c.result = RES_TIMEOUT;
		ASSERT_EQ(summary_phase_ns(&c, SP_HS_ACTIVE), -1, "timeout");
		c.result = RES_ERRNO;
		ASSERT_EQ(summary_phase_ns(&c, SP_HS_ACTIVE), -1, "errno");
		c.result = RES_OK;
		c.hs_kind = HS_SYNCOOKIE;
		ASSERT_EQ(summary_phase_ns(&c, SP_HS_ACTIVE), -1, "syncookie");
	}
	if (SUBTEST("close phases")) {
		c = mk();
		for (int p = PH_FIN_WAIT1; p <= PH_TIME_WAIT; p++)
			c.ph[p] = (p + 1) * MS;
		c.ph[PH_ACCEPT_WAIT] = 7 * US;
		ASSERT_EQ(summary_phase_ns(&c, SP_ACCEPT_WAIT), 7 * US, "accept");
		for (int p = SP_FIN_WAIT1; p <= SP_TIME_WAIT; p++)
			ASSERT_EQ(summary_phase_ns(&c, p),
				  (PH_FIN_WAIT1 + p - SP_FIN_WAIT1 + 1) * MS,
				  summary_phase_name(p));
		ASSERT_EQ(summary_phase_ns(&c, SP_MAX), -1, "out of range");
	}
	if (SUBTEST("the phase cut at exit is left out")) {
		c = mk();
		c.ph[PH_FIN_WAIT2] = 2 * S;
		c.ph[PH_TIME_WAIT] = 10 * S;
		c.tw_end = TWE_IN_PROGRESS;
		c.tw_substate = TS_TIME_WAIT;
		ASSERT_EQ(summary_phase_ns(&c, SP_TIME_WAIT), -1, "tw under way");
		ASSERT_EQ(summary_phase_ns(&c, SP_FIN_WAIT2), 2 * S, "fw2 before it");
		c.tw_substate = TS_FIN_WAIT2;
		c.ph[PH_TIME_WAIT] = -1;
		ASSERT_EQ(summary_phase_ns(&c, SP_FIN_WAIT2), -1, "orphan fw2 under way");
		/* the full socket still open: its state's phase */
		c = mk();
		c.sk = 0x1234;
		c.state = TS_CLOSE_WAIT;
		c.tw_end = TWE_IN_PROGRESS;
		c.partial = true;
		c.ph[PH_CLOSE_WAIT] = 30 * S;
		ASSERT_EQ(summary_phase_ns(&c, SP_CLOSE_WAIT), -1, "close_wait under way");
		c.tw_end = TWE_NONE;
		ASSERT_EQ(summary_phase_ns(&c, SP_CLOSE_WAIT), 30 * S, "finished");
	}
	if (SUBTEST("names")) {
		ASSERT_STREQ(summary_phase_name(SP_HS_PASSIVE), "handshake passive", "phase");
		ASSERT_STREQ(summary_phase_name(SP_TIME_WAIT), "TIME_WAIT", "phase");
		ASSERT_STREQ(summary_phase_name(-1), "?", "phase -1");
		ASSERT_STREQ(summary_result_name(SR_UNREACHABLE), "unreachable", "result");
		ASSERT_STREQ(summary_result_name(SR_MAX), "?", "result max");
		c = mk();
		c.result = RES_ERRNO;
		ASSERT_EQ(summary_result_of(&c), SR_OTHER, "errno is other");
		c.result = RES_NONE;
		ASSERT_EQ(summary_result_of(&c), SR_NONE, "none");
		c.result = RES_REFUSED;
		ASSERT_EQ(summary_result_of(&c), SR_REFUSED, "refused");
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Exact nearest-rank percentile of sorted v[n]. */
static int64_t exact_pct(const int64_t *v, int n, int pm)
{
	long rank = ((long)n * pm + 999) / 1000;

	return v[(rank ? rank : 1) - 1];
}

/* Feed v[n] as active handshakes, check p50/p90/p99/max against the exact ones. */
static void check_dist(int64_t *v, int n, const char *name)
{
	struct summary *s = summary_new(BY_NONE, 0);
	struct sum_stats st;
	struct conn c = mk();
	static const int pms[] = { 500, 900, 990 };

	if (!ASSERT_OK_PTR(s, "summary_new"))
		return;
	for (int i = 0; i < n; i++) {
		c.ph[PH_HANDSHAKE] = v[i];
		summary_add(s, &c);
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	summary_stats(s, SP_HS_ACTIVE, &st);
	ASSERT_EQ(st.count, n, name);
	ASSERT_EQ(st.max_ns, v[n - 1], name);
	for (int i = 0; i < 3; i++) {
		int64_t want = exact_pct(v, n, pms[i]);
		int64_t got = pms[i] == 500 ? st.p50_ns : pms[i] == 900 ? st.p90_ns : st.p99_ns;
		double eps = want < 16 * US ? 500.0 : want / 32.0;

		ASSERT_NEAR(got, want, eps, name);
	}
	summary_free(s);
}

static void test_percentiles(void)
{
	enum { N = 10000 };
	static int64_t v[N];
	uint64_t x = 88172645463325252ULL;

	if (SUBTEST("uniform 1..1000 ms")) {
		for (int i = 0; i < 1000; i++)
			v[i] = (i + 1) * MS;
		check_dist(v, 1000, "uniform");
	}
	if (SUBTEST("log-uniform 10 us..100 s")) {
		for (int i = 0; i < N; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* 10 us * 10^(7u), u uniform in [0, 1) */
			v[i] = (int64_t)(10 * US *
					 exp((double)(x >> 11) / (1ULL << 53) * 7 * log(10)));
		}
		check_dist(v, N, "log-uniform");
	}
	if (SUBTEST("bimodal")) {
		/* 95% around 2 ms, 5% around 60 s: p99 must land in the slow mode */
		for (int i = 0; i < 2000; i++)
			v[i] = i % 20 ? 2 * MS + i * US : 60 * S + i * MS;
		check_dist(v, 2000, "bimodal");
	}
	if (SUBTEST("below 16 us")) {
		for (int i = 0; i < 1500; i++)
			v[i] = 1000 + i * 10; /* 1.00 .. 15.99 us */
		check_dist(v, 1500, "small");
	}
	if (SUBTEST("one value is exact")) {
		struct summary *s = summary_new(BY_NONE, 0);
		struct conn c = mk();
		struct sum_stats st;

		c.ph[PH_TIME_WAIT] = 61234567890LL;
		for (int i = 0; i < 5; i++)
			summary_add(s, &c);
		summary_stats(s, SP_TIME_WAIT, &st);
		ASSERT_EQ(st.p50_ns, 61234567890LL, "clamped to min/max");
		ASSERT_EQ(st.p99_ns, 61234567890LL, "clamped to min/max");
		summary_stats(s, SP_FIN_WAIT1, &st);
		ASSERT_EQ(st.count, 0, "empty");
		ASSERT_EQ(st.p50_ns, -1, "empty p50");
		ASSERT_EQ(st.max_ns, -1, "empty max");
		summary_free(s);
	}
	if (SUBTEST("beyond the range: the max")) {
		/* 30 h is past the histogram's 2^36 us: reported as the max seen */
		for (int i = 0; i < 100; i++)
			v[i] = i < 50 ? 5 * MS : 30 * 3600 * S + i * S;
		check_dist(v, 100, "huge");
	}
}

/* The block printed after "\n<title>:\n", up to the next blank line. */
static char *section(const char *out, const char *title)
{
	char head[64];
	const char *p, *end;

	snprintf(head, sizeof(head), "\n%s:\n", title);
	p = strstr(out, head);
	if (!p)
		return NULL;
	p += strlen(head);
	end = strstr(p, "\n\n");
	return strndup(p, end ? (size_t)(end - p + 1) : strlen(p));
}

static void test_log2_hist(void)
{
	struct summary *s = summary_new(BY_NONE, 0);
	struct conn c = mk();
	static const int64_t hs_us[] = { 100, 100, 100, 300, 1000, 1023 };
	char *out, *sec;

	if (!ASSERT_OK_PTR(s, "summary_new"))
		return;
	for (size_t i = 0; i < sizeof(hs_us) / sizeof(hs_us[0]); i++) {
		c.ph[PH_HANDSHAKE] = hs_us[i] * US + 999; /* us are truncated */
		summary_add(s, &c);
	}
	c.ph[PH_HANDSHAKE] = -1;
	c.role = ROLE_PASSIVE;
	c.ph[PH_ACCEPT_WAIT] = 0; /* 0 us: the 0 -> 1 row */
	summary_add(s, &c);
	c.ph[PH_ACCEPT_WAIT] = 1 * US;
	summary_add(s, &c);
	c.ph[PH_ACCEPT_WAIT] = 5 * US;
	summary_add(s, &c);
	c.ph[PH_ACCEPT_WAIT] = -1;
	/* 3 h: 1.08e10 us, past the 10-digit column */
	c.ph[PH_CLOSE_WAIT] = 3 * 3600 * S;
	summary_add(s, &c);
	out = print_str(s, 0);
	if (!ASSERT_OK_PTR(out, "print"))
		goto out;

	if (SUBTEST("only the non-empty range")) {
		sec = section(out, "handshake active");
		ASSERT_STREQ(sec,
			     "     usecs               : count    distribution\n"
			     "        64 -> 127        : 3        |"
			     "****************************************|\n"
			     "       128 -> 255        : 0        |"
			     "                                        |\n"
			     "       256 -> 511        : 1        |"
			     "*************                           |\n"
			     "       512 -> 1023       : 2        |"
			     "**************************              |\n",
			     "handshake active");
		free(sec);
	}
	if (SUBTEST("starting at 0")) {
		sec = section(out, "accept wait");
		ASSERT_STREQ(sec,
			     "     usecs               : count    distribution\n"
			     "         0 -> 1          : 2        |"
			     "****************************************|\n"
			     "         2 -> 3          : 0        |"
			     "                                        |\n"
			     "         4 -> 7          : 1        |"
			     "********************                    |\n",
			     "accept wait");
		free(sec);
	}
	if (SUBTEST("wide values")) {
		sec = section(out, "CLOSE_WAIT");
		ASSERT_STREQ(sec,
			     "      usecs                : count    distribution\n"
			     " 8589934592 -> 17179869183 : 1        |"
			     "***************************************|\n",
			     "close_wait");
		free(sec);
	}
	if (SUBTEST("phases without data have no histogram")) {
		ASSERT_NULL(strstr(out, "\nhandshake passive:\n"), "passive");
		ASSERT_NULL(strstr(out, "\nTIME_WAIT:\n"), "time_wait");
	}
	free(out);
out:
	summary_free(s);
}

/* Every line of out fits in 80 columns. */
static bool fits_80(const char *out)
{
	const char *p = out;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len > 80) {
			printf("  too wide (%zu): %.*s\n", len, (int)len, p);
			return false;
		}
		p += len + (nl ? 1 : 0);
	}
	return true;
}

static void test_counts(void)
{
	struct summary *s = summary_new(BY_NONE, 10);
	struct conn c;
	struct sum_stats st;
	char *out;

	if (!ASSERT_OK_PTR(s, "summary_new"))
		return;
	/* 3 ok, 2 refused, 1 errno, 1 unknown; tw: 2 expired, 1 reused, 1 in progress */
	c = mk();
	c.ph[PH_HANDSHAKE] = 2 * MS;
	c.ph[PH_TIME_WAIT] = 60 * S;
	summary_add(s, &c);
	summary_add(s, &c);
	c.tw_end = TWE_REUSED;
	c.ph[PH_TIME_WAIT] = 1 * S;
	summary_add(s, &c);
	c = mk();
	c.result = RES_REFUSED;
	c.tw_end = TWE_NONE;
	c.ph[PH_HANDSHAKE] = 1 * MS;
	summary_add(s, &c);
	summary_add(s, &c);
	c.result = RES_ERRNO;
	c.err = 13;
	summary_add(s, &c);
	c = mk();
	c.role = ROLE_UNKNOWN;
	c.result = RES_NONE;
	c.tw_end = TWE_IN_PROGRESS;
	c.tw_substate = TS_TIME_WAIT;
	c.partial = true;
	c.ph[PH_TIME_WAIT] = 5 * S;
	summary_add(s, &c);

	summary_stats(s, SP_HS_ACTIVE, &st);
	ASSERT_EQ(st.count, 3, "only successful handshakes timed");
	summary_stats(s, SP_TIME_WAIT, &st);
	ASSERT_EQ(st.count, 3, "tw in progress not timed");
	out = print_str(s, 10);
	if (!ASSERT_OK_PTR(out, "print"))
		goto out;
	ASSERT_OK_PTR(strstr(out, "tcpphase summary over 10.0 s: 7 connections, 1 partial\n"),
		      "header");
	ASSERT_OK_PTR(strstr(out, "results     ok 3  refused 2  timeout 0  reset 0  unreachable 0"
				  "  aborted 0\n            other 1  none 1\n"),
		      "results, wrapped");
	ASSERT_OK_PTR(strstr(out, "tw_end      expired 2  reused 1  recycled 0  killed 0  "
				  "none 3  in_progress 1\n"),
		      "tw_end");
	ASSERT_OK_PTR(strstr(out, "PHASE                 COUNT      P50_MS      P90_MS      "
				  "P99_MS      MAX_MS\n"),
		      "header row");
	ASSERT_OK_PTR(strstr(out, "handshake active          3       2.000       2.000       "
				  "2.000       2.000\n"),
		      "handshake row");
	ASSERT_OK_PTR(strstr(out, "handshake passive         0           -           -           "
				  "-           -\n"),
		      "empty row");
	ASSERT_TRUE(fits_80(out), "80 columns");
	free(out);

	summary_reset(s);
	summary_stats(s, SP_HS_ACTIVE, &st);
	ASSERT_EQ(st.count, 0, "reset");
	out = print_str(s, 0);
	if (ASSERT_OK_PTR(out, "print"))
		ASSERT_OK_PTR(strstr(out, "tcpphase summary: 0 connections, 0 partial\n"), "reset");
	free(out);
out:
	summary_free(s);
}

/* Offset of needle in out, or -1. */
static long pos(const char *out, const char *needle)
{
	const char *p = strstr(out, needle);

	return p ? p - out : -1;
}

static void test_by(void)
{
	struct summary *s;
	struct conn c;
	char *out;

	if (SUBTEST("remote, worst p99 first, top n")) {
		/* 10.0.0.1: 10 ms; 10.0.0.2: 50 ms; 10.0.0.3: 1 ms; 10.0.0.4: no phase */
		static const int64_t hs[] = { 10 * MS, 50 * MS, 1 * MS };

		s = summary_new(BY_REMOTE, 2);
		if (!ASSERT_OK_PTR(s, "new"))
			return;
		for (int i = 0; i < 4; i++) {
			c = mk();
			c.raddr[3] = i + 1;
			if (i < 3)
				c.ph[PH_HANDSHAKE] = hs[i];
			for (int k = 0; k <= i; k++)
				summary_add(s, &c);
		}
		out = print_str(s, 0);
		if (ASSERT_OK_PTR(out, "print")) {
			ASSERT_OK_PTR(strstr(out, "\nby remote: 2 of 4 groups, worst p99 first\n"),
				      "title");
			ASSERT_GT(pos(out, "remote 10.0.0.2: 2 connections\n"), 0, "worst shown");
			ASSERT_GT(pos(out, "remote 10.0.0.1: 1 connections\n"),
				  pos(out, "remote 10.0.0.2: 2 connections\n"), "then 10 ms");
			ASSERT_LT(pos(out, "remote 10.0.0.3"), 0, "third not shown");
			ASSERT_LT(pos(out, "remote 10.0.0.4"), 0, "fourth not shown");
			ASSERT_OK_PTR(strstr(out, "(2 more groups not shown)\n"), "more");
			ASSERT_OK_PTR(strstr(out,
					     "remote 10.0.0.2: 2 connections\n"
					     "  handshake active        2      50.000      50.000"
					     "      50.000      50.000\n"),
				      "group rows");
			ASSERT_TRUE(fits_80(out), "80 columns");
		}
		free(out);
		summary_free(s);
	}
	if (SUBTEST("all groups, ties by count")) {
		s = summary_new(BY_RPORT, 0);
		if (!ASSERT_OK_PTR(s, "new"))
			return;
		for (int i = 0; i < 3; i++) {
			c = mk();
			c.rport = 1000 + i;
			c.ph[PH_FIN_WAIT1] = 5 * MS;
			for (int k = 0; k <= i; k++)
				summary_add(s, &c);
		}
		/* a slow TIME_WAIT on 1000 makes it the worst */
		c = mk();
		c.rport = 1000;
		c.ph[PH_TIME_WAIT] = 60 * S;
		summary_add(s, &c);
		out = print_str(s, 0);
		if (ASSERT_OK_PTR(out, "print")) {
			ASSERT_OK_PTR(strstr(out, "\nby rport: 3 of 3 groups, worst p99 first\n"),
				      "title");
			ASSERT_GT(pos(out, "rport 1000: 2 connections"), 0, "1000 first");
			ASSERT_GT(pos(out, "rport 1002: 3 connections"),
				  pos(out, "rport 1000: 2 connections"), "then by count");
			ASSERT_GT(pos(out, "rport 1001: 2 connections"),
				  pos(out, "rport 1002: 3 connections"), "1001 last");
			ASSERT_LT(pos(out, "more groups"), 0, "nothing hidden");
		}
		free(out);
		summary_free(s);
	}
	if (SUBTEST("lport, comm, netns, ipv6 labels")) {
		static const enum summary_by bys[] = { BY_LPORT, BY_COMM, BY_NETNS, BY_REMOTE };
		static const char *const want[] = { "lport 443: 1", "comm nginx: 1",
						    "netns 4026531840: 1",
						    "remote 2001:db8::1: 1" };

		for (int i = 0; i < 4; i++) {
			s = summary_new(bys[i], 5);
			if (!ASSERT_OK_PTR(s, "new"))
				return;
			c = mk();
			c.family = AF_INET6;
			memset(c.raddr, 0, sizeof(c.raddr));
			c.raddr[0] = 0x20;
			c.raddr[1] = 0x01;
			c.raddr[2] = 0x0d;
			c.raddr[3] = 0xb8;
			c.raddr[15] = 1;
			c.lport = 443;
			c.netns = 4026531840U;
			memcpy(c.comm, "nginx\0garbage", 14);
			summary_add(s, &c);
			/* no owner known: comm "-" */
			c.pid = 0;
			c.lport = 8443;
			c.netns = 1;
			c.raddr[15] = 2;
			summary_add(s, &c);
			out = print_str(s, 0);
			if (ASSERT_OK_PTR(out, "print"))
				ASSERT_OK_PTR(strstr(out, want[i]), want[i]);
			if (bys[i] == BY_COMM && out)
				ASSERT_OK_PTR(strstr(out, "comm -: 1"), "no owner");
			free(out);
			summary_free(s);
		}
	}
	if (SUBTEST("bounded group count")) {
		s = summary_new(BY_RPORT, 3);
		if (!ASSERT_OK_PTR(s, "new"))
			return;
		c = mk();
		c.ph[PH_HANDSHAKE] = 1 * MS;
		for (int i = 0; i < SUMMARY_MAX_GROUPS + 10; i++) {
			c.rport = 1 + i;
			summary_add(s, &c);
		}
		/* a key already known still finds its group */
		c.rport = 1;
		summary_add(s, &c);
		/* the extra keys share one group, ranked like the others */
		c.rport = 60000;
		c.ph[PH_HANDSHAKE] = 900 * MS;
		summary_add(s, &c);
		out = print_str(s, 0);
		if (ASSERT_OK_PTR(out, "print")) {
			ASSERT_OK_PTR(strstr(out,
					     "\nby rport: 3 of 4097 groups, worst p99 first\n"),
				      "title");
			ASSERT_OK_PTR(strstr(out,
					     "rport other: 11 connections (keys beyond the group"
					     " bound)\n"),
				      "other first");
			ASSERT_OK_PTR(strstr(out, "rport 1: 2 connections\n"), "known key");
			ASSERT_OK_PTR(strstr(out, "(4094 more groups not shown)\n"), "more");
			ASSERT_TRUE(fits_80(out), "80 columns");
		}
		free(out);
		summary_reset(s);
		out = print_str(s, 0);
		if (ASSERT_OK_PTR(out, "print"))
			ASSERT_LT(pos(out, "by rport"), 0, "no groups after reset");
		free(out);
		c.rport = 7;
		summary_add(s, &c);
		out = print_str(s, 0);
		if (ASSERT_OK_PTR(out, "print"))
			ASSERT_OK_PTR(strstr(out, "rport 7: 1 connections"),
				      "regroups after reset");
		free(out);
		summary_free(s);
	}
	summary_free(NULL);
}

#define UID "1b2c3d4e-0000-4111-8222-333344445555"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CTR                                                                       \
	"/kubepods.slice/kubepods-pod1b2c3d4e_0000_4111_8222_333344445555.slice/" \
	"cri-containerd-" HEX64 ".scope"

/*
 * --by cgroup and --by workload over a fake cgroup tree: a service with a
 * sub-cgroup (two cgroups, one workload) whose ends sit in CLOSE_WAIT, a
 * container that connects, and ends with no cgroup or an unknown one.
 */
static void test_by_cgroup(void)
{
	uint64_t svc, sub, ctr, unknown = 0x7fffffffffffULL;
	struct fake_cg fc = { "" };
	struct cgroups *cg;
	struct summary *s;
	struct conn c;
	char *out;

	if (!ASSERT_OK(fake_cg_make(&fc), "fake cgroup root"))
		return;
	svc = fake_cg_dir(&fc, "/system.slice/web.service");
	sub = fake_cg_dir(&fc, "/system.slice/web.service/worker");
	ctr = fake_cg_dir(&fc, CTR);
	cg = cg_new(fc.root);
	if (!ASSERT_OK_PTR(cg, "cg_new") || !ASSERT_NEQ(svc * sub * ctr, 0, "dirs"))
		goto out;

	for (int by = BY_CGROUP; by <= BY_WORKLOAD; by++) {
		s = summary_new(by, 0);
		if (!ASSERT_OK_PTR(s, "new"))
			break;
		summary_set_cgroups(s, cg);
		c = mk();
		c.role = ROLE_PASSIVE;
		c.ph[PH_CLOSE_WAIT] = 2 * S;
		c.cgroup = svc;
		summary_add(s, &c);
		summary_add(s, &c);
		c.cgroup = sub;
		summary_add(s, &c);
		c = mk();
		c.ph[PH_HANDSHAKE] = 1 * MS;
		c.cgroup = ctr;
		for (int i = 0; i < 3; i++)
			summary_add(s, &c);
		c.cgroup = 0;
		summary_add(s, &c);
		c.cgroup = unknown;
		summary_add(s, &c);
		out = print_str(s, 0);
		if (!ASSERT_OK_PTR(out, "print")) {
			summary_free(s);
			break;
		}
		if (by == BY_WORKLOAD && SUBTEST("workload: cgroups of one service together")) {
			ASSERT_OK_PTR(strstr(out,
					     "\nby workload: 3 of 3 groups, worst p99 first\n"),
				      "title");
			ASSERT_OK_PTR(strstr(out, "workload web.service: 3 connections\n"
						  "  CLOSE_WAIT              3    2000.000"),
				      "service with its CLOSE_WAIT");
			ASSERT_OK_PTR(strstr(out, "workload pod:" UID "/containerd:0123456789ab:"
						  " 3 connections\n"
						  "  handshake active        3"),
				      "container with its handshakes");
			ASSERT_OK_PTR(strstr(out, "workload -: 2 connections\n"),
				      "none and unknown");
			ASSERT_GT(pos(out, "workload pod:"), pos(out, "workload web.service"),
				  "worst p99 first");
		}
		if (by == BY_CGROUP && SUBTEST("cgroup: each path, unknown by its id")) {
			ASSERT_OK_PTR(strstr(out, "\nby cgroup: 5 of 5 groups"), "title");
			ASSERT_OK_PTR(strstr(out,
					     "cgroup /system.slice/web.service: 2 connections\n"),
				      "service");
			ASSERT_OK_PTR(strstr(out, "cgroup /system.slice/web.service/worker: 1 "
						  "connections\n"),
				      "its sub-cgroup");
			ASSERT_OK_PTR(strstr(out, "cgroup " CTR ": 3 connections\n"), "container");
			ASSERT_OK_PTR(strstr(out, "cgroup -: 1 connections\n"), "no cgroup");
			ASSERT_OK_PTR(strstr(out, "cgroup 140737488355327: 1 connections\n"),
				      "unknown: its id");
		}
		free(out);
		summary_free(s);
	}
	if (SUBTEST("no cgroup table: one group")) {
		s = summary_new(BY_WORKLOAD, 0);
		if (ASSERT_OK_PTR(s, "new")) {
			c = mk();
			c.cgroup = svc;
			summary_add(s, &c);
			c.cgroup = ctr;
			summary_add(s, &c);
			out = print_str(s, 0);
			if (ASSERT_OK_PTR(out, "print"))
				ASSERT_OK_PTR(strstr(out, "by workload: 1 of 1 groups"), "one");
			free(out);
			summary_free(s);
		}
	}
	if (SUBTEST("no cgroup2 mount: one group")) {
		struct cgroups *none = cg_new("");

		s = summary_new(BY_CGROUP, 0);
		if (ASSERT_OK_PTR(s, "new") && ASSERT_OK_PTR(none, "cg_new")) {
			summary_set_cgroups(s, none);
			c = mk();
			c.cgroup = svc;
			summary_add(s, &c);
			c.cgroup = ctr;
			summary_add(s, &c);
			out = print_str(s, 0);
			if (ASSERT_OK_PTR(out, "print"))
				ASSERT_OK_PTR(strstr(out, "cgroup -: 2 connections"), "one, \"-\"");
			free(out);
		}
		summary_free(s);
		cg_free(none);
	}
out:
	cg_free(cg);
	fake_cg_remove(&fc);
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_by_parse);
	RUN_TEST(test_phase_selection);
	RUN_TEST(test_percentiles);
	RUN_TEST(test_log2_hist);
	RUN_TEST(test_counts);
	RUN_TEST(test_by);
	RUN_TEST(test_by_cgroup);
	return unit_summary();
}
