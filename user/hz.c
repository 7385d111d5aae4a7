// SPDX-License-Identifier: GPL-2.0
/*
 * hz.c - choose the kernel's HZ from a measured jiffies rate.
 */
#include "hz.h"

/*
 * The values Linux is built with: kernel/Kconfig.hz's choices first, then
 * those a few architectures add, tried only when none of the first fits.
 */
static const unsigned int common_hz[] = { 100, 250, 300, 1000 };
static const unsigned int rare_hz[] = { 24, 32, 48, 64, 128, 200, 256, 500, 1024, 1200 };

/* The value of set[] within [lo, hi] nearest to rate, or 0. */
static unsigned int nearest_in(const unsigned int *set, unsigned int n, double lo, double hi,
			       double rate)
{
	double best_dist = 0;
	unsigned int best = 0;

	for (unsigned int i = 0; i < n; i++) {
		double dist = set[i] > rate ? set[i] - rate : rate - set[i];

		if (set[i] < lo || set[i] > hi)
			continue;
		if (!best || dist < best_dist) {
			best = set[i];
			best_dist = dist;
		}
	}
	return best;
}

/*
 * Each of the two reads may fall anywhere within its jiffy, so HZ lies
 * within [(delta - 1) / interval, (delta + 1) / interval]. Returns the
 * known value in that range nearest to delta / interval, else the rounded
 * rate if the range is narrow (within 2%), else 0: the reads tell too
 * little (too close together, or jiffies stood still).
 */
unsigned int hz_from_jiffies(uint64_t jiffies_delta, uint64_t interval_ns)
{
	double lo, hi, rate;
	unsigned int hz;

	if (interval_ns < HZ_MIN_INTERVAL_NS || jiffies_delta < 2)
		return 0;
	rate = (double)jiffies_delta * NSEC_PER_SEC / interval_ns;
	lo = (double)(jiffies_delta - 1) * NSEC_PER_SEC / interval_ns;
	hi = (double)(jiffies_delta + 1) * NSEC_PER_SEC / interval_ns;
	hz = nearest_in(common_hz, sizeof(common_hz) / sizeof(common_hz[0]), lo, hi, rate);
	if (!hz)
		hz = nearest_in(rare_hz, sizeof(rare_hz) / sizeof(rare_hz[0]), lo, hi, rate);
	if (!hz && hi - lo <= rate * 0.02)
		hz = (unsigned int)(rate + 0.5);
	return hz;
}
