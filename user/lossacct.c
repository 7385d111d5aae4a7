// SPDX-License-Identifier: GPL-2.0
/*
 * lossacct.c - the loss accounting and its report (lossacct.h).
 */
#include "lossacct.h"

void losses_account(const struct loss_inputs *in, struct losses *l)
{
	const uint64_t *cnt = in->cnt;
	const struct ct_stats *st = &in->st;

	l->misses = in->misses;
	l->rb_drops = cnt[CNT_RB_DROPS] + in->ring_skipped + in->agg_refused;
	l->rescued = cnt[CNT_RESCUED];
	/*
	 * A primary's miss is recovered when its rescue handled the event; a
	 * rescue also re-handles the odd event its primary did see (the table
	 * drops those as duplicates). What is left was seen by neither.
	 */
	l->rescued -= st->duplicates < l->rescued ? st->duplicates : l->rescued;
	l->recursion = l->misses > l->rescued ? l->misses - l->rescued : 0;
	/*
	 * A transition that did not follow the socket's last known state means
	 * at least one event lost somewhere, even when no kernel counter saw it
	 * (the kernel ran none of the programs: "unseen"): so that no loss goes
	 * unreported, the missed transitions beyond the recursion losses count.
	 */
	l->unseen = st->missed > l->recursion ? st->missed - l->recursion : 0;
	l->lost = l->recursion + l->unseen;
	l->full = st->table_full + cnt[CNT_SCRATCH_FULL] + cnt[CNT_LISTEN_FULL];
	l->unaggregated = cnt[CNT_AGG_FULL];
}

uint64_t losses_total(const struct losses *l)
{
	return l->rb_drops + l->lost + l->full;
}

void losses_print(FILE *f, const struct losses *l, const struct ct_stats *st, bool final,
		  bool events)
{
	uint64_t total = losses_total(l);

	if (!final) {
		fprintf(f,
			"tcpphase: lost %llu events (ring buffer full %llu, recursion %llu, "
			"unseen %llu, table full %llu)\n",
			(unsigned long long)total, (unsigned long long)l->rb_drops,
			(unsigned long long)l->recursion, (unsigned long long)l->unseen,
			(unsigned long long)l->full);
		return;
	}
	if (events) {
		fprintf(f,
			"tcpphase: %llu state changes; lost %llu (ring buffer full %llu, recursion "
			"%llu of %llu misses, %llu rescued; unseen %llu; table full %llu); missed "
			"transitions %llu, duplicates %llu\n",
			(unsigned long long)st->events, (unsigned long long)total,
			(unsigned long long)l->rb_drops, (unsigned long long)l->recursion,
			(unsigned long long)l->misses, (unsigned long long)l->rescued,
			(unsigned long long)l->unseen, (unsigned long long)l->full,
			(unsigned long long)st->missed, (unsigned long long)st->duplicates);
		return;
	}
	fprintf(f,
		"tcpphase: %llu events, %llu records (%llu partial); lost %llu (ring buffer "
		"full %llu, recursion %llu of %llu misses, %llu rescued; unseen %llu; table "
		"full %llu); missed transitions %llu\n",
		(unsigned long long)st->events, (unsigned long long)st->records,
		(unsigned long long)st->partial, (unsigned long long)total,
		(unsigned long long)l->rb_drops, (unsigned long long)l->recursion,
		(unsigned long long)l->misses, (unsigned long long)l->rescued,
		(unsigned long long)l->unseen, (unsigned long long)l->full,
		(unsigned long long)st->missed);
	if (st->rst_unjoined) /* a reset whose endpoint's record was not found */
		fprintf(f, "tcpphase: %llu resets of traced sockets joined to no record\n",
			(unsigned long long)st->rst_unjoined);
	if (l->unaggregated)
		fprintf(f,
			"tcpphase: %llu sockets or requests found no aggregation slot and were "
			"sent per transition (nothing lost; a larger --max-conns gives more slots)\n",
			(unsigned long long)l->unaggregated);
}
