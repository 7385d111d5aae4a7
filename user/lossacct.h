/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lossacct.h - the loss accounting: from what the programs counted, what
 * the kernel counted (recursion misses), what the reader skipped and what
 * the table could not follow, how many events were lost and why, and the
 * lines that say so. No libbpf: losses.c reads the counters, this adds
 * them up, so unit tests can check the sums.
 */
#ifndef __LOSSACCT_H
#define __LOSSACCT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conntable.h"

/* What the accounting is made from, as read at one time. */
struct loss_inputs {
	uint64_t cnt[CNT_MAX]; /* the programs' counters, summed over CPUs */
	uint64_t misses; /* the primary programs' recursion misses (the kernel's) */
	uint64_t ring_skipped; /* per-CPU ring positions never published */
	uint64_t agg_refused; /* aggregated records that expand to nothing */
	struct ct_stats st; /* the table's */
};

/* Losses so far: ring-buffer drops, events no program saw, table overflow. */
struct losses {
	uint64_t rb_drops;
	uint64_t rescued;
	uint64_t misses; /* primary misses */
	uint64_t lost; /* recursion + unseen */
	uint64_t recursion; /* misses the rescue did not catch */
	uint64_t unseen; /* missed transitions beyond those: no program ran for them */
	uint64_t full;
	uint64_t unaggregated; /* no aggregation slot: sent per transition, not lost */
};

void losses_account(const struct loss_inputs *in, struct losses *l);
/* Every event lost, whatever the cause. */
uint64_t losses_total(const struct losses *l);
/*
 * The report on f: one line while tracing (final false); at the end the
 * totals, as --events (events) or the lifecycle outputs count them.
 */
void losses_print(FILE *f, const struct losses *l, const struct ct_stats *st, bool final,
		  bool events);

#endif /* __LOSSACCT_H */
