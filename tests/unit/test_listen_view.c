// SPDX-License-Identifier: GPL-2.0
/*
 * test_listen_view.c - the listener view: queue length buckets and their
 * percentiles, rows kept per (netns, port), accept waits, and the
 * Prometheus series with their lport label bounded.
 */
#include <stdlib.h>
#include <string.h>

#include "listen_view.h"
#include "unit.h"

static void test_buckets(void)
{
	ASSERT_EQ(lq_bucket(0), 0, "0");
	ASSERT_EQ(lq_bucket(31), 31, "31: the last linear bucket");
	ASSERT_EQ(lq_bucket(32), LQ_LINEAR, "32..63");
	ASSERT_EQ(lq_bucket(63), LQ_LINEAR, "63");
	ASSERT_EQ(lq_bucket(64), LQ_LINEAR + 1, "64..127");
	ASSERT_EQ(lq_bucket(4096), LQ_LINEAR + 7, "4096 (SOMAXCONN)");
	ASSERT_EQ(lq_bucket(0xffffffffU), LQ_BUCKETS - 1, "the largest shares the last");
}

static void test_percentiles(void)
{
	__u64 h[LQ_BUCKETS] = { 0 };

	ASSERT_EQ(lq_pct(h, 500), -1, "empty");
	for (__u32 q = 0; q < 10; q++)
		h[lq_bucket(q)]++;
	ASSERT_EQ(lq_pct(h, 500), 4, "p50 of 0..9, nearest rank");
	ASSERT_EQ(lq_pct(h, 990), 9, "p99 of 0..9");
	h[lq_bucket(100)] += 1000;
	ASSERT_EQ(lq_pct(h, 500), 64, "a log bucket reports its floor");
}

static void test_rows(void)
{
	struct listen_view lv = { 0 };
	struct listen_stats s = { .syns = 3, .backlog = 8 };
	struct lv_entry *e;

	ASSERT_OK(lv_set(&lv, 1, 80, &s), "set");
	s.syns = 5;
	ASSERT_OK(lv_set(&lv, 1, 80, &s), "set again: replaced");
	ASSERT_OK(lv_set(&lv, 2, 80, &s), "another netns, same port");
	ASSERT_EQ(lv.n, 2, "two rows");
	e = lv_get(&lv, 1, 80, false);
	if (!ASSERT_OK_PTR(e, "found"))
		goto out;
	ASSERT_EQ(e->s.syns, 5, "the last read wins");
	lv_add_accept_wait(&lv, 1, 80, 2000000);
	lv_add_accept_wait(&lv, 1, 80, 4000000);
	lv_add_accept_wait(&lv, 1, 80, -1);
	ASSERT_EQ(e->aw_n, 2, "a wait not known is left out");
	ASSERT_EQ(e->aw_max_ns, 4000000, "max");
	ASSERT_EQ(e->aw_sum_ns, 6000000, "sum");
	ASSERT_NULL(lv_get(&lv, 3, 80, false), "no such row");
out:
	lv_free(&lv);
}

/* How often needle occurs in text. */
static int occurs(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_metrics_bounded(void)
{
	struct listen_view lv = { 0 };
	struct listen_stats s = { 0 };
	uint16_t only = 1001;
	char *text;

	/* 12 ports, port 1000 + i with i * 10 SYNs: the top 10 keep their name */
	for (int i = 0; i < 12; i++) {
		s.syns = i * 10;
		s.overflow_syn = 1;
		lv_set(&lv, 1, 1000 + i, &s);
	}
	s.syns = 7;
	lv_set(&lv, 2, 1011, &s); /* same port elsewhere: summed */
	text = lv_metrics(&lv, NULL, 0);
	if (!ASSERT_OK_PTR(text, "render"))
		goto out;
	ASSERT_TRUE(strstr(text, "tcpphase_listen_syns_total{lport=\"1011\"} 117\n") != NULL,
		    "the busiest, summed over netns");
	ASSERT_TRUE(strstr(text, "tcpphase_listen_syns_total{lport=\"other\"} 10\n") != NULL,
		    "the two least busy (0 and 10 SYNs) share other");
	ASSERT_EQ(occurs(text, "tcpphase_listen_syns_total{"), LV_TOP_PORTS + 1, "top N and other");
	ASSERT_TRUE(strstr(text,
			   "tcpphase_listen_overflows_total{lport=\"other\",packet=\"syn\"} 2\n") !=
			    NULL,
		    "other's overflows");
	free(text);
	text = lv_metrics(&lv, &only, 1);
	if (!ASSERT_OK_PTR(text, "render with -L"))
		goto out;
	ASSERT_EQ(occurs(text, "tcpphase_listen_syns_total{"), 2, "-L port and other");
	ASSERT_TRUE(strstr(text, "tcpphase_listen_syns_total{lport=\"1001\"} 10\n") != NULL,
		    "the -L port");
	ASSERT_TRUE(strstr(text, "le=\"+Inf\"") != NULL, "histogram ends at +Inf");
	free(text);
out:
	lv_free(&lv);
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_buckets);
	RUN_TEST(test_percentiles);
	RUN_TEST(test_rows);
	RUN_TEST(test_metrics_bounded);
	return unit_summary();
}
