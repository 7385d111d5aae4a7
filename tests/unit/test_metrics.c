// SPDX-License-Identifier: GPL-2.0
/*
 * test_metrics.c - the Prometheus exporter with synthetic records: the
 * exposition text (HELP/TYPE, monotonic buckets, counts and sums, the
 * bounded label set, lport labels), the address parser's errors, counting
 * from another thread while scraping, and the HTTP server on 127.0.0.1
 * with a plain socket client: 200/404/405, a silent or half-sent client
 * does not delay another scrape, a malformed request gets an answer or a
 * close, never a hang.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cgroups.h"
#include "metrics.h"
#include "unit.h"

#include "fixtures.h"

static struct metrics *start(const uint16_t *ports, int n)
{
	char err[256] = "";
	struct metrics *m = metrics_start("127.0.0.1:0", ports, n, err, sizeof(err));

	if (!m)
		printf("  metrics_start: %s\n", err);
	return m;
}

/* The value of the series whose line starts with 'series ' ("name{labels}"), or -1. */
static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* The value of name{labels} in text, or -1. */
static double series(const char *text, const char *name, const char *labels)
{
	char s[256];

	snprintf(s, sizeof(s), "%s{%s}", name, labels);
	return value_of(text, s);
}

/* Lines of text starting with prefix. */
static int count_lines(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	int k = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n))
			k++;
	return k;
}

/*
 * Check every histogram series of 'name' in text: buckets non-decreasing,
 * +Inf bucket == _count. Returns the number of series checked, -1 on error.
 */
static int check_hist(const char *text, const char *name)
{
	char bucket[128], prev_lab[256] = "";
	double prev = -1;
	int series = 0;

	snprintf(bucket, sizeof(bucket), "%s_bucket{", name);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *le, *sp, *nl = strchr(p, '\n');
		char line[256], lab[256], cnt[300];
		double v;

		if (strncmp(p, bucket, strlen(bucket)))
			continue;
		snprintf(line, sizeof(line), "%.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
		/* not the le=" ending role=" */
		le = strstr(line, ",le=\"");
		if (!le)
			le = strstr(line, "{le=\"");
		if (le)
			le++;
		sp = strchr(line, ' ');
		if (!le || !sp || le > sp)
			return -1;
		snprintf(lab, sizeof(lab), "%.*s", (int)(le - line), line);
		v = strtod(sp + 1, NULL);
		if (strcmp(lab, prev_lab)) {
			snprintf(prev_lab, sizeof(prev_lab), "%s", lab);
			prev = -1;
			series++;
		}
		if (v < prev) {
			printf("  %s: bucket decreases at %s\n", name, line);
			return -1;
		}
		prev = v;
		if (!strncmp(le, "le=\"+Inf\"", 9)) {
			/* name_count{same labels} or name_count */
			const char *l = lab + strlen(bucket);
			size_t ln = strlen(l);

			if (ln && l[ln - 1] == ',')
				ln--;
			if (ln)
				snprintf(cnt, sizeof(cnt), "%s_count{%.*s}", name, (int)ln, l);
			else
				snprintf(cnt, sizeof(cnt), "%s_count", name);
			if (value_of(text, cnt) != v) {
				printf("  %s: %s != +Inf bucket %g\n", name, cnt, v);
				return -1;
			}
		}
	}
	return series;
}

static void test_render(void)
{
	struct metrics *m = start(NULL, 0);
	struct metrics_extra x = {
		.events = 1234,
		.lost_ringbuf = 1,
		.lost_recursion = 2,
		.rescued = 3,
		.table_full = 4,
		.partial = 5,
		.k_tw = 6,
		.k_tw_killed = 7,
		.k_tw_recycled = 8,
		.k_tw_overflow = 9,
		.k_tw_live = 10,
	};
	struct conn c;
	char *t;

	if (!ASSERT_OK_PTR(m, "metrics_start"))
		return;
	/* 3 active ok: 50 us, 3 ms, 2 s; FIN_WAIT1 1 ms; TIME_WAIT 61 s */
	static const int64_t hs[] = { 50 * US, 3 * MS, 2 * S };

	for (int i = 0; i < 3; i++) {
		c = mk();
		c.ph[PH_HANDSHAKE] = hs[i];
		c.ph[PH_FIN_WAIT1] = 1 * MS;
		c.ph[PH_TIME_WAIT] = 61 * S;
		metrics_add(m, &c);
	}
	/* passive, refused-looking failures, a cut TIME_WAIT */
	c = mk();
	c.role = ROLE_PASSIVE;
	c.ph[PH_HANDSHAKE] = 400 * US;
	c.ph[PH_ACCEPT_WAIT] = 100 * US; /* exactly on a bound: le is inclusive */
	c.ph[PH_CLOSE_WAIT] = 30 * S;
	c.ph[PH_LAST_ACK] = 200 * US;
	c.tw_end = TWE_NONE;
	metrics_add(m, &c);
	c = mk();
	c.result = RES_REFUSED;
	c.ph[PH_HANDSHAKE] = 1 * MS;
	c.tw_end = TWE_NONE;
	metrics_add(m, &c);
	c = mk();
	c.role = ROLE_UNKNOWN;
	c.result = RES_NONE;
	c.tw_end = TWE_IN_PROGRESS;
	c.tw_substate = TS_TIME_WAIT;
	c.ph[PH_TIME_WAIT] = 10 * S;
	metrics_add(m, &c);
	metrics_set_extra(m, &x);

	t = metrics_render(m);
	if (!ASSERT_OK_PTR(t, "render"))
		goto out;

	if (SUBTEST("help and type")) {
		static const char *const fams[][2] = {
			{ "tcpphase_handshake_seconds", "histogram" },
			{ "tcpphase_accept_wait_seconds", "histogram" },
			{ "tcpphase_phase_seconds", "histogram" },
			{ "tcpphase_time_wait_seconds", "histogram" },
			{ "tcpphase_connections_total", "counter" },
			{ "tcpphase_time_wait_end_total", "counter" },
			{ "tcpphase_resets_total", "counter" },
			{ "tcpphase_resets_by_socket_total", "counter" },
			{ "tcpphase_events_total", "counter" },
			{ "tcpphase_lost_events_total", "counter" },
			{ "tcpphase_rescued_events_total", "counter" },
			{ "tcpphase_partial_records_total", "counter" },
			{ "tcpphase_kernel_tw_total", "counter" },
			{ "tcpphase_kernel_tw_killed_total", "counter" },
			{ "tcpphase_kernel_tw_recycled_total", "counter" },
			{ "tcpphase_kernel_tw_overflow_total", "counter" },
			{ "tcpphase_kernel_tw_live", "gauge" },
		};
		char line[128];

		for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
			snprintf(line, sizeof(line), "# TYPE %s %s\n", fams[i][0], fams[i][1]);
			ASSERT_OK_PTR(strstr(t, line), fams[i][0]);
			snprintf(line, sizeof(line), "# HELP %s ", fams[i][0]);
			ASSERT_EQ(count_lines(t, line), 1, fams[i][0]);
		}
		ASSERT_EQ(count_lines(t, "# TYPE "), 17, "families");
		ASSERT_EQ(t[strlen(t) - 1], '\n', "ends with a newline");
	}
	if (SUBTEST("buckets")) {
		ASSERT_EQ(check_hist(t, "tcpphase_handshake_seconds"), 2, "handshake: 2 roles");
		ASSERT_EQ(check_hist(t, "tcpphase_accept_wait_seconds"), 1, "accept");
		ASSERT_EQ(check_hist(t, "tcpphase_phase_seconds"), 5, "phases");
		ASSERT_EQ(check_hist(t, "tcpphase_time_wait_seconds"), 1, "time_wait");
		ASSERT_EQ(count_lines(t, "tcpphase_handshake_seconds_bucket{role=\"active\","), 22,
			  "21 bounds + Inf");
		ASSERT_EQ(series(t, "tcpphase_handshake_seconds_bucket",
				 "role=\"active\",le=\"0.0001\""),
			  1, "50 us");
		ASSERT_EQ(series(t, "tcpphase_handshake_seconds_bucket",
				 "role=\"active\",le=\"0.0025\""),
			  1, "below 3 ms");
		ASSERT_EQ(series(t, "tcpphase_handshake_seconds_bucket",
				 "role=\"active\",le=\"0.005\""),
			  2, "3 ms");
		ASSERT_EQ(series(t, "tcpphase_handshake_seconds_bucket",
				 "role=\"active\",le=\"2.5\""),
			  3, "2 s");
		ASSERT_EQ(series(t, "tcpphase_handshake_seconds_count", "role=\"active\""), 3,
			  "failed handshake not timed");
		ASSERT_OK_PTR(strstr(t, "tcpphase_handshake_seconds_sum{role=\"active\"} "
					"2.003050000\n"),
			      "exact sum");
		ASSERT_EQ(series(t, "tcpphase_accept_wait_seconds_bucket", "le=\"0.0001\""), 1,
			  "le is inclusive");
		ASSERT_EQ(series(t, "tcpphase_phase_seconds_count", "phase=\"close_wait\""), 1,
			  "cw");
		ASSERT_EQ(series(t, "tcpphase_phase_seconds_bucket",
				 "phase=\"close_wait\",le=\"30\""),
			  1, "cw 30 s");
		ASSERT_EQ(series(t, "tcpphase_phase_seconds_count", "phase=\"fin_wait1\""), 3,
			  "fw1");
		ASSERT_EQ(series(t, "tcpphase_phase_seconds_count", "phase=\"closing\""), 0,
			  "closing, zero but present");
		ASSERT_EQ(value_of(t, "tcpphase_time_wait_seconds_count"), 3, "cut tw not timed");
		ASSERT_EQ(series(t, "tcpphase_time_wait_seconds_bucket", "le=\"60\""), 0, "61 s");
		ASSERT_EQ(series(t, "tcpphase_time_wait_seconds_bucket", "le=\"65\""), 3, "61 s");
		ASSERT_OK_PTR(strstr(t, "tcpphase_time_wait_seconds_sum 183.000000000\n"),
			      "tw sum");
	}
	if (SUBTEST("counters")) {
		ASSERT_EQ(series(t, "tcpphase_connections_total", "role=\"active\",result=\"ok\""),
			  3, "active ok");
		ASSERT_EQ(series(t, "tcpphase_connections_total",
				 "role=\"active\",result=\"refused\""),
			  1, "refused");
		ASSERT_EQ(series(t, "tcpphase_connections_total", "role=\"passive\",result=\"ok\""),
			  1, "passive ok");
		ASSERT_EQ(series(t, "tcpphase_connections_total",
				 "role=\"unknown\",result=\"none\""),
			  1, "unknown");
		ASSERT_EQ(count_lines(t, "tcpphase_connections_total{"), 3 * 8, "roles x results");
		ASSERT_EQ(series(t, "tcpphase_time_wait_end_total", "end=\"expired\""), 3,
			  "expired");
		ASSERT_EQ(series(t, "tcpphase_time_wait_end_total", "end=\"none\""), 2, "none");
		ASSERT_EQ(series(t, "tcpphase_time_wait_end_total", "end=\"in_progress\""), 1,
			  "ip");
		ASSERT_EQ(series(t, "tcpphase_time_wait_end_total", "end=\"reused\""), 0, "reused");
		ASSERT_EQ(value_of(t, "tcpphase_events_total"), 1234, "events");
		ASSERT_EQ(series(t, "tcpphase_lost_events_total", "reason=\"ringbuf\""), 1, "rb");
		ASSERT_EQ(series(t, "tcpphase_lost_events_total", "reason=\"recursion\""), 2,
			  "rec");
		ASSERT_EQ(series(t, "tcpphase_lost_events_total", "reason=\"table_full\""), 4,
			  "full");
		ASSERT_EQ(value_of(t, "tcpphase_rescued_events_total"), 3, "rescued");
		ASSERT_EQ(value_of(t, "tcpphase_partial_records_total"), 5, "partial");
		ASSERT_EQ(value_of(t, "tcpphase_kernel_tw_total"), 6, "k_tw");
		ASSERT_EQ(value_of(t, "tcpphase_kernel_tw_killed_total"), 7, "killed");
		ASSERT_EQ(value_of(t, "tcpphase_kernel_tw_recycled_total"), 8, "recycled");
		ASSERT_EQ(value_of(t, "tcpphase_kernel_tw_overflow_total"), 9, "overflow");
		ASSERT_EQ(value_of(t, "tcpphase_kernel_tw_live"), 10, "live");
	}
	if (SUBTEST("no lport label without label ports")) {
		ASSERT_NULL(strstr(t, "lport"), "lport");
	}
	if (SUBTEST("label set")) {
		static const char *const keys[] = { "role",   "result", "phase",     "end",
						    "reason", "le",	"direction", "socket" };
		int lines = 0;

		for (const char *p = t; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
			const char *b = strchr(p, '{'), *nl = strchr(p, '\n');

			if (*p == '#')
				continue;
			lines++;
			if (!b || (nl && b > nl))
				continue;
			for (const char *k = b + 1; *k && *k != '}';) {
				const char *eq = strchr(k, '=');
				bool known = false;

				if (!eq)
					break;
				for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
					if ((size_t)(eq - k) == strlen(keys[i]) &&
					    !strncmp(k, keys[i], eq - k))
						known = true;
				if (!ASSERT_TRUE(known, "known label key")) {
					printf("  in: %.*s\n", (int)(nl ? nl - p : 80), p);
					break;
				}
				k = strchr(eq + 2, '"'); /* closing quote */
				if (!k)
					break;
				k += (k[1] == ',') ? 2 : 1;
			}
		}
		/* no per-connection labels: the series count does not depend on traffic */
		ASSERT_LT(lines, 400, "bounded series");
	}
	free(t);
out:
	metrics_stop(m);
}

static void test_lport_labels(void)
{
	static const uint16_t ports[] = { 80, 443, 80 };
	struct metrics *m = start(ports, 3);
	struct conn c;
	char *t, *t2;

	if (!ASSERT_OK_PTR(m, "metrics_start"))
		return;
	c = mk();
	c.role = ROLE_PASSIVE;
	c.ph[PH_HANDSHAKE] = 1 * MS;
	c.lport = 80;
	metrics_add(m, &c);
	metrics_add(m, &c);
	c.lport = 443;
	metrics_add(m, &c);
	for (int i = 0; i < 100; i++) {
		c.lport = 1000 + i;
		metrics_add(m, &c);
	}
	t = metrics_render(m);
	if (!ASSERT_OK_PTR(t, "render"))
		goto out;
	ASSERT_EQ(series(t, "tcpphase_handshake_seconds_count", "role=\"passive\",lport=\"80\""), 2,
		  "80");
	ASSERT_EQ(series(t, "tcpphase_handshake_seconds_count", "role=\"passive\",lport=\"443\""),
		  1, "443");
	ASSERT_EQ(value_of(t, "tcpphase_handshake_seconds_count{role=\"passive\","
			      "lport=\"other\"}"),
		  100, "other");
	ASSERT_EQ(value_of(t, "tcpphase_connections_total{role=\"passive\",result=\"ok\","
			      "lport=\"other\"}"),
		  100, "connections other");
	ASSERT_EQ(series(t, "tcpphase_time_wait_end_total", "end=\"expired\",lport=\"80\""), 2,
		  "tw end 80");
	ASSERT_EQ(series(t, "tcpphase_accept_wait_seconds_count", "lport=\"443\""), 0, "accept");
	ASSERT_EQ(check_hist(t, "tcpphase_handshake_seconds"), 2 * 3, "roles x lports");
	ASSERT_EQ(check_hist(t, "tcpphase_phase_seconds"), 5 * 3, "phases x lports");
	ASSERT_EQ(count_lines(t, "tcpphase_connections_total{"), 3 * 8 * 3, "dedup: 3 lports");
	ASSERT_NULL(strstr(t, "lport=\"1000\""), "unlisted port not a label");
	ASSERT_NULL(strstr(t, "tcpphase_events_total{"), "globals have no lport");
	/* the text is the same when nothing changed */
	t2 = metrics_render(m);
	if (ASSERT_OK_PTR(t2, "render again"))
		ASSERT_STREQ(t2, t, "stable");
	free(t2);
	free(t);
out:
	metrics_stop(m);
}

/* The sum of the values of the lines of text starting with prefix. */
static double sum_lines(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	double sum = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *sp;

		if (strncmp(p, prefix, n))
			continue;
		sp = strchr(p, ' ');
		if (sp)
			sum += strtod(sp + 1, NULL);
	}
	return sum;
}

/* Every series family that --metrics-by labels, as "name{first label". */
static const char *const labelled[] = {
	"tcpphase_handshake_seconds_count{role=\"active\"",
	"tcpphase_handshake_seconds_count{role=\"passive\"",
	"tcpphase_handshake_seconds_bucket{role=\"active\"",
	"tcpphase_phase_seconds_count{phase=\"close_wait\"",
	"tcpphase_phase_seconds_sum{phase=\"close_wait\"",
	"tcpphase_connections_total{role=\"active\",result=\"ok\"",
	"tcpphase_connections_total{role=\"passive\",result=\"ok\"",
	"tcpphase_time_wait_end_total{end=\"expired\"",
};

/* Each labelled family of t sums to what the unlabelled u shows. */
static void check_sums(const char *t, const char *u, const char *what)
{
	char name[160];

	for (size_t i = 0; i < sizeof(labelled) / sizeof(labelled[0]); i++) {
		snprintf(name, sizeof(name), "%s: %s", what, labelled[i]);
		ASSERT_NEAR(sum_lines(t, labelled[i]), sum_lines(u, labelled[i]), 1e-6, name);
	}
}

/* A service (2 s CLOSE_WAITs), a container (1 ms handshakes), no cgroup. */
static void add_mix(struct metrics **ms, int n, uint64_t svc, int n_svc, uint64_t ctr, int n_ctr,
		    int n_none)
{
	struct conn c = mk();

	c.role = ROLE_PASSIVE;
	c.ph[PH_CLOSE_WAIT] = 2 * S;
	c.cgroup = svc;
	for (int i = 0; i < n_svc; i++)
		for (int k = 0; k < n; k++)
			metrics_add(ms[k], &c);
	c = mk();
	c.ph[PH_HANDSHAKE] = 1 * MS;
	c.cgroup = ctr;
	for (int i = 0; i < n_ctr; i++)
		for (int k = 0; k < n; k++)
			metrics_add(ms[k], &c);
	c.cgroup = 0;
	for (int i = 0; i < n_none; i++)
		for (int k = 0; k < n; k++)
			metrics_add(ms[k], &c);
}

#define CTR_WL "pod:1b2c3d4e-0000-4111-8222-333344445555/containerd:0123456789ab"

static void test_workload_labels(void)
{
	struct metrics *m[2] = { start(NULL, 0), start(NULL, 0) }, *w;
	uint64_t svc, ctr, odd;
	struct fake_cg fc = { "" };
	struct cgroups *cg = NULL;
	char err[128], *t = NULL, *u = NULL;

	if (!ASSERT_OK_PTR(m[0], "start") || !ASSERT_OK_PTR(m[1], "start") ||
	    !ASSERT_OK(fake_cg_make(&fc), "fake cgroup root"))
		goto out;
	svc = fake_cg_dir(&fc, "/system.slice/web.service");
	ctr = fake_cg_dir(&fc, "/kubepods.slice/kubepods-pod1b2c3d4e_0000_4111_8222_"
			       "333344445555.slice/cri-containerd-0123456789abcdef0123456789abcdef"
			       "0123456789abcdef0123456789abcdef.scope");
	odd = fake_cg_dir(&fc, "/system.slice/a\"b\\c.service");
	cg = cg_new(fc.root);
	if (!ASSERT_OK_PTR(cg, "cg_new"))
		goto out;
	w = m[0]; /* labelled; m[1] is not: the totals */

	if (SUBTEST("bad top")) {
		ASSERT_ERR(metrics_by_workload(w, cg, 0, err, sizeof(err)), "0");
		ASSERT_ERR(metrics_by_workload(w, cg, METRICS_TOP_MAX + 1, err, sizeof(err)),
			   "too many");
		ASSERT_TRUE(strchr(err, '\n') == NULL, "one line");
	}
	if (!ASSERT_OK(metrics_by_workload(w, cg, 2, err, sizeof(err)), err))
		goto out;
	ASSERT_ERR(metrics_by_workload(w, cg, 2, err, sizeof(err)), "only once");

	if (SUBTEST("the top 2 named, the rest other")) {
		add_mix(m, 2, svc, 3, ctr, 2, 1);
		t = metrics_render(w);
		u = metrics_render(m[1]);
		if (!ASSERT_OK_PTR(t, "render") || !ASSERT_OK_PTR(u, "render"))
			goto out;
		ASSERT_EQ(series(t, "tcpphase_phase_seconds_count",
				 "phase=\"close_wait\",workload=\"web.service\""),
			  3, "service's CLOSE_WAITs");
		ASSERT_EQ(series(t, "tcpphase_handshake_seconds_count",
				 "role=\"active\",workload=\"" CTR_WL "\""),
			  2, "container's handshakes");
		ASSERT_EQ(series(t, "tcpphase_connections_total",
				 "role=\"active\",result=\"ok\",workload=\"other\""),
			  1, "no cgroup: other");
		ASSERT_NULL(strstr(t, "workload=\"unknown\""), "not named");
		ASSERT_EQ(check_hist(t, "tcpphase_handshake_seconds"), 2 * 3,
			  "roles x 3 workloads");
		check_sums(t, u, "top 2");
		ASSERT_NULL(strstr(u, "workload="), "no label without it");
		free(t);
		free(u);
		t = u = NULL;
	}
	if (SUBTEST("a busier one takes the weakest's place past twice its count")) {
		/* unknown: 1 + 3 = 4, not more than twice the container's 2 */
		add_mix(m, 2, svc, 0, ctr, 0, 3);
		t = metrics_render(w);
		if (ASSERT_OK_PTR(t, "render"))
			ASSERT_OK_PTR(strstr(t, "workload=\"" CTR_WL "\""), "not yet");
		free(t);
		add_mix(m, 2, svc, 0, ctr, 0, 2);
		t = metrics_render(w);
		u = metrics_render(m[1]);
		if (!ASSERT_OK_PTR(t, "render") || !ASSERT_OK_PTR(u, "render"))
			goto out;
		ASSERT_NULL(strstr(t, CTR_WL), "container replaced");
		ASSERT_EQ(series(t, "tcpphase_connections_total",
				 "role=\"active\",result=\"ok\",workload=\"unknown\""),
			  2, "named from its 5th endpoint on");
		ASSERT_EQ(series(t, "tcpphase_connections_total",
				 "role=\"active\",result=\"ok\",workload=\"other\""),
			  2 + 4, "the container's and unknown's before it was named");
		ASSERT_EQ(series(t, "tcpphase_phase_seconds_count",
				 "phase=\"close_wait\",workload=\"web.service\""),
			  3, "service kept");
		check_sums(t, u, "after the swap");
		free(t);
		free(u);
		t = u = NULL;
	}
	if (SUBTEST("label values escaped")) {
		add_mix(m, 2, odd, 20, 0, 0, 0);
		t = metrics_render(w);
		if (ASSERT_OK_PTR(t, "render"))
			ASSERT_OK_PTR(strstr(t, "workload=\"a\\\"b\\\\c.service\""), "escaped");
		free(t);
		t = NULL;
	}
	if (SUBTEST("bounded: many workloads, top 1")) {
		struct metrics *b = start(NULL, 0);
		char rel[64];

		if (ASSERT_OK_PTR(b, "start") &&
		    ASSERT_OK(metrics_by_workload(b, cg, 1, err, sizeof(err)), err)) {
			int total = 0;

			for (int i = 0; i < 200; i++) {
				total += 1 + i % 3;
				snprintf(rel, sizeof(rel), "/many/s%d.service", i);
				add_mix(&b, 1, fake_cg_dir(&fc, rel), 1 + i % 3, 0, 0, 0);
			}
			t = metrics_render(b);
			if (ASSERT_OK_PTR(t, "render")) {
				ASSERT_EQ(count_lines(t,
						      "tcpphase_phase_seconds_count{phase=\"close_"
						      "wait\""),
					  2, "one named, other");
				ASSERT_EQ(sum_lines(t, "tcpphase_phase_seconds_count{phase=\"close_"
						       "wait\""),
					  total, "all counted");
			}
			free(t);
			t = NULL;
		}
		metrics_stop(b);
	}
out:
	free(t);
	free(u);
	metrics_stop(m[0]);
	metrics_stop(m[1]);
	cg_free(cg);
	fake_cg_remove(&fc);
}

static void test_start_errors(void)
{
	static const char *const bad[] = {
		"nonsense",  "127.0.0.1", ":99999",
		":-1",	     ":8o",	  "::1:9100",
		"[::1]9100", "[::1",	  "no.such.host.invalid:9100",
		":",
	};
	static const uint16_t many[MAX_PORTS + 1] = { 1 };
	char err[256];
	struct metrics *m, *m2;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		m = metrics_start(bad[i], NULL, 0, err, sizeof(err));
		if (!ASSERT_NULL(m, bad[i]))
			metrics_stop(m);
		ASSERT_GT(strlen(err), 0, bad[i]);
		ASSERT_NULL(strchr(err, '\n'), "one line");
	}
	err[0] = '\0';
	ASSERT_NULL(metrics_start(NULL, NULL, 0, err, sizeof(err)), "NULL");
	ASSERT_NULL(metrics_start("", NULL, 0, err, sizeof(err)), "empty");
	ASSERT_NULL(metrics_start("127.0.0.1:0", many, MAX_PORTS + 1, err, sizeof(err)), "ports");
	ASSERT_NULL(metrics_start("127.0.0.1:0", NULL, 2, err, sizeof(err)), "NULL ports");

	/* a port in use: the reason says so */
	m = start(NULL, 0);
	if (!ASSERT_OK_PTR(m, "first"))
		return;
	{
		char addr[32];

		snprintf(addr, sizeof(addr), "127.0.0.1:%u", metrics_port(m));
		err[0] = '\0';
		m2 = metrics_start(addr, NULL, 0, err, sizeof(err));
		ASSERT_NULL(m2, "port in use");
		ASSERT_OK_PTR(strstr(err, "in use"), err);
		metrics_stop(m2);
	}
	metrics_stop(m);
	metrics_stop(NULL);

	/* the other address forms */
	m = metrics_start("[::1]:0", NULL, 0, err, sizeof(err));
	if (m) /* IPv6 may be off in this namespace */
		ASSERT_GT(metrics_port(m), 0, "v6 port");
	metrics_stop(m);
	m = metrics_start("localhost:0", NULL, 0, err, sizeof(err));
	if (ASSERT_OK_PTR(m, "localhost"))
		ASSERT_GT(metrics_port(m), 0, "localhost port");
	metrics_stop(m);
	m = metrics_start(":0", NULL, 0, err, sizeof(err));
	if (ASSERT_OK_PTR(m, ":0"))
		ASSERT_GT(metrics_port(m), 0, "any port");
	metrics_stop(m);
}

/* --- HTTP --- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Send req and read the answer until the server closes, into a malloc'ed
 * string. *closed tells whether it did within timeout_ms (else a hang).
 */
static char *exchange(uint16_t port, const char *req, int timeout_ms, bool *closed)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	double deadline = now_s() + timeout_ms / 1000.0;
	int fd = connect_to(port);

	*closed = false;
	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
		goto done;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = (int)((deadline - now_s()) * 1000);
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		if (len == cap) {
			char *nb = realloc(buf, 2 * cap + 1);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0) {
			*closed = true; /* EOF or reset: not a hang */
			break;
		}
		len += n;
	}
done:
	close(fd);
	buf[len] = '\0';
	return buf;
}

static const char get_metrics[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/* A normal scrape: 200 with the exposition, well within limit_s. */
static bool scrape_ok(uint16_t port, double limit_s, const char *what)
{
	double t0 = now_s();
	bool closed, ok = true;
	char *r = exchange(port, get_metrics, 3000, &closed);

	ok &= ASSERT_OK_PTR(r, what);
	if (!r)
		return false;
	ok &= ASSERT_TRUE(closed, what);
	ok &= ASSERT_TRUE(!strncmp(r, "HTTP/1.1 200 ", 13), what);
	ok &= ASSERT_OK_PTR(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4"), what);
	ok &= ASSERT_OK_PTR(strstr(r, "\r\n\r\n# HELP tcpphase_handshake_seconds "), what);
	ok &= ASSERT_OK_PTR(strstr(r, "\ntcpphase_kernel_tw_live 0\n"), what);
	ok &= ASSERT_LT(now_s() - t0, limit_s, what);
	free(r);
	return ok;
}

struct adder {
	struct metrics *m;
	int n;
};

static void *add_many(void *arg)
{
	struct adder *a = arg;
	struct conn c = mk();

	c.ph[PH_HANDSHAKE] = 1 * MS;
	for (int i = 0; i < a->n; i++)
		metrics_add(a->m, &c);
	return NULL;
}

static void test_http(void)
{
	struct metrics *m = start(NULL, 0);
	uint16_t port;
	bool closed;
	char *r;

	if (!ASSERT_OK_PTR(m, "metrics_start"))
		return;
	port = metrics_port(m);
	if (SUBTEST("get /metrics")) {
		struct conn c = mk();

		c.ph[PH_HANDSHAKE] = 1 * MS;
		metrics_add(m, &c);
		scrape_ok(port, 1.0, "scrape");
		r = exchange(port, get_metrics, 3000, &closed);
		if (ASSERT_OK_PTR(r, "again"))
			ASSERT_OK_PTR(
				strstr(r,
				       "\ntcpphase_handshake_seconds_count{role=\"active\"} 1\n"),
				"count over http");
		free(r);
		/* a query string is ignored */
		r = exchange(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n", 3000, &closed);
		if (ASSERT_OK_PTR(r, "http/1.0"))
			ASSERT_TRUE(!strncmp(r, "HTTP/1.1 200 ", 13) ||
					    !strncmp(r, "HTTP/1.0 200 ", 13),
				    "1.0 ok");
		free(r);
	}
	if (SUBTEST("404 and 405")) {
		r = exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000,
			     &closed);
		if (ASSERT_OK_PTR(r, "root"))
			ASSERT_TRUE(!strncmp(r, "HTTP/1.1 404 ", 13), "404 /");
		free(r);
		r = exchange(port, "GET /metricsx HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			     3000, &closed);
		if (ASSERT_OK_PTR(r, "metricsx"))
			ASSERT_TRUE(!strncmp(r, "HTTP/1.1 404 ", 13), "404 /metricsx");
		free(r);
		r = exchange(port,
			     "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
			     "Connection: close\r\n\r\nhello",
			     3000, &closed);
		if (ASSERT_OK_PTR(r, "post")) {
			ASSERT_TRUE(!strncmp(r, "HTTP/1.1 405 ", 13), "405 POST");
			ASSERT_OK_PTR(strstr(r, "\r\nAllow: GET, HEAD\r\n"), "Allow");
		}
		free(r);
		r = exchange(port,
			     "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			     3000, &closed);
		if (ASSERT_OK_PTR(r, "delete"))
			ASSERT_TRUE(!strncmp(r, "HTTP/1.1 405 ", 13), "405 DELETE");
		free(r);
	}
	if (SUBTEST("a silent client blocks nothing")) {
		int silent = connect_to(port), half = connect_to(port);

		ASSERT_GE(silent, 0, "connect");
		ASSERT_GE(half, 0, "connect");
		if (half >= 0)
			send(half, "GET /metr", 9, MSG_NOSIGNAL);
		usleep(50000);
		scrape_ok(port, 1.0, "scrape beside a silent client");
		scrape_ok(port, 1.0, "and another");
		if (silent >= 0)
			close(silent);
		if (half >= 0)
			close(half);
	}
	if (SUBTEST("malformed requests: an error or a close, no hang")) {
		static const char *const junk[] = {
			"GARBAGE\r\n\r\n",
			"GET /metrics HTTP/9.9\r\n\r\n",
			"\x01\x02\x03\x04\r\n\r\n",
			"GET /metrics HTTP/1.1\r\nNoColonHeader\r\n\r\n",
		};

		for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
			r = exchange(port, junk[i], 3000, &closed);
			if (!ASSERT_OK_PTR(r, "exchange"))
				continue;
			ASSERT_TRUE(closed, "closed, not hung");
			ASSERT_TRUE(!r[0] || !strncmp(r, "HTTP/1.1 4", 10) ||
					    !strncmp(r, "HTTP/1.1 5", 10),
				    "error or nothing");
			free(r);
		}
		/* headers beyond the per-connection memory: refused, not buffered */
		{
			size_t n = 64 * 1024;
			char *big = malloc(n + 64);

			if (ASSERT_OK_PTR(big, "malloc")) {
				int k = snprintf(big, n, "GET /metrics HTTP/1.1\r\nX-Big: ");

				memset(big + k, 'a', n - k - 4);
				memcpy(big + n - 4, "\r\n\r\n", 5);
				r = exchange(port, big, 3000, &closed);
				if (ASSERT_OK_PTR(r, "big"))
					ASSERT_TRUE(closed && (!r[0] ||
							       !strncmp(r, "HTTP/1.1 4", 10)),
						    "big headers refused");
				free(r);
				free(big);
			}
		}
		scrape_ok(port, 1.0, "still serving");
	}
	if (SUBTEST("counting while scraping")) {
		struct adder a = { .m = m, .n = 200000 };
		pthread_t th;
		char *t;

		if (ASSERT_OK(pthread_create(&th, NULL, add_many, &a), "thread")) {
			for (int i = 0; i < 5; i++)
				scrape_ok(port, 1.0, "scrape while adding");
			pthread_join(th, NULL);
		}
		t = metrics_render(m);
		if (ASSERT_OK_PTR(t, "render")) {
			ASSERT_EQ(series(t, "tcpphase_handshake_seconds_count", "role=\"active\""),
				  200000 + 1, "every add counted");
			ASSERT_EQ(check_hist(t, "tcpphase_handshake_seconds"), 2, "consistent");
		}
		free(t);
	}
	if (SUBTEST("stop with a client connected")) {
		int silent = connect_to(port);
		double t0 = now_s();

		metrics_stop(m);
		m = NULL;
		ASSERT_LT(now_s() - t0, 2.0, "stop is prompt");
		if (silent >= 0)
			close(silent);
		ASSERT_LT(connect_to(port), 0, "no longer listening");
	}
	metrics_stop(m);
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_render);
	RUN_TEST(test_lport_labels);
	RUN_TEST(test_workload_labels);
	RUN_TEST(test_start_errors);
	RUN_TEST(test_http);
	return unit_summary();
}
