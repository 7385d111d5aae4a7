// SPDX-License-Identifier: GPL-2.0
/*
 * test_hz.c - HZ from a measured jiffies rate: the usual values, the
 * rounding at the edges of a jiffy, and reads that tell too little.
 */
#include "hz.h"
#include "unit.h"

#define MS 1000000ULL

static void test_usual_values(void)
{
	/* 100 ms apart: 10, 25, 30 or 100 jiffies, give or take one */
	ASSERT_EQ(hz_from_jiffies(10, 100 * MS), 100, "HZ=100");
	ASSERT_EQ(hz_from_jiffies(25, 100 * MS), 250, "HZ=250");
	ASSERT_EQ(hz_from_jiffies(30, 100 * MS), 300, "HZ=300");
	ASSERT_EQ(hz_from_jiffies(100, 100 * MS), 1000, "HZ=1000");
}

static void test_jiffy_edges(void)
{
	/* a read just before a tick and one just after: one jiffy more or less */
	ASSERT_EQ(hz_from_jiffies(26, 100 * MS), 250, "250, one extra jiffy");
	ASSERT_EQ(hz_from_jiffies(24, 100 * MS), 250, "250, one jiffy short");
	ASSERT_EQ(hz_from_jiffies(29, 100 * MS), 300, "300, one jiffy short");
	ASSERT_EQ(hz_from_jiffies(31, 100 * MS), 300, "300, one extra jiffy");
	/* a late second read: 104 ms measured, 26 jiffies seen */
	ASSERT_EQ(hz_from_jiffies(26, 104 * MS), 250, "250 over 104 ms");
	/* a long interval pins it down */
	ASSERT_EQ(hz_from_jiffies(2501, 10000 * MS), 250, "250 over 10 s");
}

static void test_unusual_value(void)
{
	/* not a known value, but measured over long enough to round */
	ASSERT_EQ(hz_from_jiffies(1500, 1000 * MS), 1500, "HZ=1500 over 1 s");
}

static void test_too_little(void)
{
	ASSERT_EQ(hz_from_jiffies(0, 100 * MS), 0, "jiffies stood still");
	ASSERT_EQ(hz_from_jiffies(1, 100 * MS), 0, "one jiffy");
	ASSERT_EQ(hz_from_jiffies(5, 20 * MS), 0, "too short an interval");
	ASSERT_EQ(hz_from_jiffies(15, 100 * MS), 0,
		  "150 Hz over 100 ms: no known value, too vague");
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_usual_values);
	RUN_TEST(test_jiffy_edges);
	RUN_TEST(test_unusual_value);
	RUN_TEST(test_too_little);
	return unit_summary();
}
