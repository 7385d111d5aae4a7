// SPDX-License-Identifier: GPL-2.0
/*
 * test_reorder.c - records from the several ways (ring buffer events,
 * per-CPU aggregated records) come out merged in time order, each way in
 * its own order, and only once older than the cutoff.
 */
#include <stdlib.h>

#include "reorder.h"
#include "unit.h"

static struct {
	uint64_t ts[64];
	int agg[64];
	uint64_t id[64];
	int n;
} out;

static void on_event(void *ctx, const struct event *e)
{
	if (out.n < 64) {
		out.ts[out.n] = e->ts_ns;
		out.agg[out.n] = 0;
		out.id[out.n] = e->id;
	}
	out.n++;
}

static void on_agg(void *ctx, const struct agg_event *a)
{
	if (out.n < 64) {
		out.ts[out.n] = a->head.ts_ns;
		out.agg[out.n] = 1;
		out.id[out.n] = a->head.id;
	}
	out.n++;
}

static void push_event(struct reorder *r, uint64_t ts, uint64_t id)
{
	struct event e = { .ts_ns = ts, .id = id, .type = EV_TW_CANCEL };

	ASSERT_OK(reorder_event(r, &e), "reorder_event");
}

/* Aggregated records are queued where they lie: they must outlive the queue. */
static struct agg_event aggs[1 << 14];
static int n_aggs;

static void push_agg(struct reorder *r, int way, uint64_t ts, uint64_t id)
{
	struct agg_event *a = &aggs[n_aggs++ % (1 << 14)];

	*a = (struct agg_event){ .head = { .ts_ns = ts, .id = id, .type = EV_AGG } };
	ASSERT_OK(reorder_agg(r, way, a), "reorder_agg");
}

static void test_time_order(void)
{
	struct reorder *r = reorder_new(2, 1 << 14, on_event, on_agg, NULL);

	if (!ASSERT_OK_PTR(r, "reorder_new"))
		return;
	memset(&out, 0, sizeof(out));
	if (SUBTEST("a TIME_WAIT end read before its socket's record")) {
		/* the ring buffer was read first: the tw cancel at 200 came in
		 * before the socket's record at 100 from a per-CPU ring */
		push_event(r, 200, 2);
		push_agg(r, 1, 100, 1);
		reorder_flush(r, 1000);
		ASSERT_EQ(out.n, 2, "handed on");
		ASSERT_EQ(out.id[0], 1, "the socket first");
		ASSERT_EQ(out.agg[0], 1, "an aggregated record");
		ASSERT_EQ(out.id[1], 2, "then the tw end");
		ASSERT_EQ(reorder_held(r), 0, "none held");
	}
	if (SUBTEST("younger than the cutoff: held for the next flush")) {
		out.n = 0;
		push_agg(r, 2, 500, 5);
		push_event(r, 300, 3);
		push_event(r, 900, 9);
		reorder_flush(r, 600);
		ASSERT_EQ(out.n, 2, "handed on");
		ASSERT_EQ(out.id[0], 3, "oldest first");
		ASSERT_EQ(out.id[1], 5, "then");
		ASSERT_EQ(reorder_held(r), 1, "one held");
		/* a record of 700 arrives late by the other way: still in order */
		push_agg(r, 1, 700, 7);
		reorder_flush(r, UINT64_MAX);
		ASSERT_EQ(out.n, 4, "all handed on");
		ASSERT_EQ(out.id[2], 7, "the late one before");
		ASSERT_EQ(out.id[3], 9, "the younger one");
	}
	if (SUBTEST("ties keep their arrival order")) {
		out.n = 0;
		for (int i = 0; i < 20; i++)
			push_event(r, 42, i);
		reorder_flush(r, UINT64_MAX);
		ASSERT_EQ(out.n, 20, "handed on");
		for (int i = 0; i < 20; i++)
			ASSERT_EQ(out.id[i], i, "arrival order");
	}
	if (SUBTEST("three ways interleaved, queues grown past their first size")) {
		uint64_t last = 0;
		int sorted = 1;

		out.n = 0;
		for (int i = 0; i < 3000; i++) {
			push_event(r, 3 * i, i);
			push_agg(r, 1, 3 * i + 1, i);
			push_agg(r, 2, 3 * i + 2, i);
		}
		ASSERT_EQ(reorder_held(r), 9000, "held");
		reorder_flush(r, 4500);
		ASSERT_EQ(out.n, 4500, "handed on (the first 64 recorded)");
		ASSERT_EQ(reorder_held(r), 9000 - 4500, "the younger half held");
		for (int i = 0; i < 64; i++) {
			sorted &= out.ts[i] >= last;
			last = out.ts[i];
		}
		ASSERT_TRUE(sorted, "in time order");
		reorder_flush(r, UINT64_MAX);
		ASSERT_EQ(reorder_held(r), 0, "none held");
	}
	if (SUBTEST("a way that does not exist: handed on at once")) {
		struct agg_event a = { .head = { .ts_ns = 1, .id = 99 } };

		out.n = 0;
		ASSERT_EQ(reorder_agg(r, 3, &a), -1, "refused");
		ASSERT_EQ(out.n, 1, "handed on");
		ASSERT_EQ(out.id[0], 99, "that record");
	}
	reorder_free(r);
}

/* Holes keep their place in a way's count and are never handed on; a full way refuses. */
static void test_holes_and_bounds(void)
{
	struct reorder *r = reorder_new(1, 4, on_event, on_agg, NULL);

	if (!ASSERT_OK_PTR(r, "reorder_new"))
		return;
	memset(&out, 0, sizeof(out));
	if (SUBTEST("a hole is held like a record, then dropped")) {
		push_agg(r, 1, 10, 1);
		ASSERT_OK(reorder_agg(r, 1, NULL), "hole");
		push_agg(r, 1, 30, 3);
		ASSERT_EQ(reorder_held_way(r, 1), 3, "three positions held");
		reorder_flush(r, 20);
		ASSERT_EQ(out.n, 1, "the record before the hole");
		ASSERT_EQ(reorder_held_way(r, 1), 1, "the hole passed with it");
		reorder_flush(r, UINT64_MAX);
		ASSERT_EQ(out.n, 2, "then the one after");
		ASSERT_EQ(out.id[1], 3, "in order");
	}
	if (SUBTEST("a way as full as its ring hands the next on at once")) {
		out.n = 0;
		for (int i = 0; i < 4; i++)
			push_agg(r, 1, 100 + i, i);
		ASSERT_EQ(reorder_agg(r, 1, &aggs[0]), -1, "refused");
		ASSERT_EQ(out.n, 1, "handed on");
		ASSERT_EQ(reorder_held_way(r, 1), 4, "the others still held");
		reorder_flush(r, UINT64_MAX);
	}
	if (SUBTEST("a capacity that is not a power of two is refused")) {
		ASSERT_TRUE(reorder_new(1, 6, on_event, on_agg, NULL) == NULL, "refused");
		ASSERT_TRUE(reorder_new(1, 0, on_event, on_agg, NULL) == NULL, "zero");
	}
	reorder_free(r);
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_time_order);
	RUN_TEST(test_holes_and_bounds);
	return unit_summary();
}
