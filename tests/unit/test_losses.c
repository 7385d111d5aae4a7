// SPDX-License-Identifier: GPL-2.0
/*
 * test_losses.c - the loss accounting (lossacct.c): what the programs, the
 * kernel, the ring reader and the table counted, added up so that every
 * lost event is reported once and a recovered one is not, and the report
 * lines that say so.
 */
#include <stdlib.h>

#include "lossacct.h"
#include "unit.h"

/* The report losses_print writes, in a buffer the caller frees. */
static char *printed(const struct losses *l, const struct ct_stats *st, bool final, bool events)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	losses_print(f, l, st, final, events);
	fclose(f);
	return buf;
}

static void test_account(void)
{
	struct loss_inputs in;
	struct losses l;

	if (SUBTEST("nothing lost")) {
		in = (struct loss_inputs){ .cnt = { 0 } };
		in.st.events = 1000;
		losses_account(&in, &l);
		ASSERT_EQ(losses_total(&l), 0, "total");
	}
	if (SUBTEST("drops: ring buffer, ring positions, bad records")) {
		in = (struct loss_inputs){ .cnt = { [CNT_RB_DROPS] = 3 } };
		in.ring_skipped = 2;
		in.agg_refused = 1;
		losses_account(&in, &l);
		ASSERT_EQ(l.rb_drops, 6, "rb_drops");
		ASSERT_EQ(losses_total(&l), 6, "total");
	}
	if (SUBTEST("misses the rescue caught are no loss")) {
		in = (struct loss_inputs){ .cnt = { [CNT_RESCUED] = 5 } };
		in.misses = 5;
		losses_account(&in, &l);
		ASSERT_EQ(l.recursion, 0, "recursion");
		ASSERT_EQ(l.rescued, 5, "rescued");
		ASSERT_EQ(losses_total(&l), 0, "total");
	}
	if (SUBTEST("a rescue that re-handled a seen event rescued nothing")) {
		/* 5 rescues, of which 2 the table dropped as duplicates: 3 rescued */
		in = (struct loss_inputs){ .cnt = { [CNT_RESCUED] = 5 } };
		in.misses = 4;
		in.st.duplicates = 2;
		losses_account(&in, &l);
		ASSERT_EQ(l.rescued, 3, "rescued");
		ASSERT_EQ(l.recursion, 1, "recursion");
		ASSERT_EQ(l.lost, 1, "lost");
	}
	if (SUBTEST("more duplicates than rescues")) {
		in = (struct loss_inputs){ .cnt = { [CNT_RESCUED] = 1 } };
		in.st.duplicates = 9;
		losses_account(&in, &l);
		ASSERT_EQ(l.rescued, 0, "rescued, not below 0");
	}
	if (SUBTEST("missed transitions beyond the misses: unseen")) {
		in = (struct loss_inputs){ .cnt = { 0 } };
		in.misses = 2;
		in.st.missed = 7;
		losses_account(&in, &l);
		ASSERT_EQ(l.recursion, 2, "recursion");
		ASSERT_EQ(l.unseen, 5, "unseen");
		ASSERT_EQ(l.lost, 7, "lost: each missed transition once");
	}
	if (SUBTEST("missed transitions the misses explain")) {
		in = (struct loss_inputs){ .cnt = { 0 } };
		in.misses = 4;
		in.st.missed = 3;
		losses_account(&in, &l);
		ASSERT_EQ(l.unseen, 0, "unseen");
		ASSERT_EQ(l.lost, 4, "lost");
	}
	if (SUBTEST("full: the table's and the helper maps'")) {
		in = (struct loss_inputs){ .cnt = { [CNT_SCRATCH_FULL] = 2, [CNT_AGG_FULL] = 8 } };
		in.st.table_full = 3;
		losses_account(&in, &l);
		ASSERT_EQ(l.full, 5, "full");
		ASSERT_EQ(l.unaggregated, 8, "unaggregated");
		ASSERT_EQ(losses_total(&l), 5, "unaggregated is no loss");
	}
}

static void test_print(void)
{
	struct loss_inputs in = { .cnt = { [CNT_RB_DROPS] = 1, [CNT_AGG_FULL] = 4 } };
	struct losses l;
	char *s;

	in.st.events = 50;
	in.st.records = 10;
	in.st.partial = 1;
	in.st.missed = 2;
	in.st.rst_unjoined = 3;
	losses_account(&in, &l);
	if (SUBTEST("while tracing")) {
		s = printed(&l, &in.st, false, false);
		ASSERT_STREQ(s,
			     "tcpphase: lost 3 events (ring buffer full 1, recursion 0, unseen 2, "
			     "table full 0)\n",
			     "line");
		free(s);
	}
	if (SUBTEST("at the end")) {
		s = printed(&l, &in.st, true, false);
		ASSERT_STREQ(
			s,
			"tcpphase: 50 events, 10 records (1 partial); lost 3 (ring buffer full "
			"1, recursion 0 of 0 misses, 0 rescued; unseen 2; table full 0); "
			"missed transitions 2\n"
			"tcpphase: 3 resets of traced sockets joined to no record\n"
			"tcpphase: 4 sockets or requests found no aggregation slot and were "
			"sent per transition (nothing lost; a larger --max-conns gives more "
			"slots)\n",
			"lines");
		free(s);
	}
	if (SUBTEST("at the end, --events")) {
		s = printed(&l, &in.st, true, true);
		ASSERT_STREQ(s,
			     "tcpphase: 50 state changes; lost 3 (ring buffer full 1, recursion 0 "
			     "of 0 misses, 0 rescued; unseen 2; table full 0); missed transitions "
			     "2, duplicates 0\n",
			     "line");
		free(s);
	}
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_account);
	RUN_TEST(test_print);
	return unit_summary();
}
