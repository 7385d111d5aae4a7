// SPDX-License-Identifier: GPL-2.0
/*
 * losses.c - nothing is lost silently: ring-buffer drops and rescues counted
 * by the programs, recursion misses counted by the kernel, events the
 * table could not place; and the kernel's own TIME_WAIT counters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpfstats.h"
#include "gauges.h"
#include "metrics.h"
#include "tcpphase.skel.h"
#include "tracer.h"

/*
 * Kernel recursion misses of the primary programs. A rescue's own misses
 * are events its primary handled, so they are no loss.
 */
static uint64_t recursion_misses(struct tracer *t)
{
	struct bpf_program *prog;
	uint64_t misses = 0;

	bpf_object__for_each_program(prog, t->skel->obj) {
		struct prog_stats ps;
		int fd = bpf_program__fd(prog);

		/* by identity, from the skeleton: a rename cannot break this */
		if (fd < 0 || prog == t->skel->progs.set_state_rescue || prog_stats_read(fd, &ps))
			continue;
		misses += ps.recursion_misses;
	}
	return misses;
}

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

static void read_losses(struct tracer *t, struct losses *l)
{
	uint64_t cnt[CNT_MAX] = { 0 };
	struct ct_stats st;

	percpu_counters_read(bpf_map__fd(t->skel->maps.counters), cnt, CNT_MAX);
	l->misses = recursion_misses(t);
	ct_get_stats(t->pl->table, &st);
	l->rb_drops = cnt[CNT_RB_DROPS] + t->agg.rd.skipped + t->pl->agg_refused;
	l->rescued = cnt[CNT_RESCUED];
	/*
	 * A primary's miss is recovered when its rescue handled the event; a
	 * rescue also re-handles the odd event its primary did see (the table
	 * drops those as duplicates). What is left was seen by neither.
	 */
	l->rescued -= st.duplicates < l->rescued ? st.duplicates : l->rescued;
	l->recursion = l->misses > l->rescued ? l->misses - l->rescued : 0;
	/*
	 * A transition that did not follow the socket's last known state means
	 * at least one event lost somewhere, even when no kernel counter saw it
	 * (the kernel ran none of the programs: "unseen"): so that no loss goes
	 * unreported, the missed transitions beyond the recursion losses count.
	 */
	l->unseen = st.missed > l->recursion ? st.missed - l->recursion : 0;
	l->lost = l->recursion + l->unseen;
	l->full = st.table_full + cnt[CNT_SCRATCH_FULL];
	l->unaggregated = cnt[CNT_AGG_FULL];
}

void report_losses(struct tracer *t, bool final)
{
	struct losses l;
	struct ct_stats st;
	uint64_t total;

	read_losses(t, &l);
	ct_get_stats(t->pl->table, &st);
	total = l.rb_drops + l.lost + l.full;
	if (!final && total == t->reported_loss)
		return;
	t->reported_loss = total;
	if (!final) {
		fprintf(stderr,
			"tcpphase: lost %llu events (ring buffer full %llu, recursion %llu, "
			"unseen %llu, table full %llu)\n",
			(unsigned long long)total, (unsigned long long)l.rb_drops,
			(unsigned long long)l.recursion, (unsigned long long)l.unseen,
			(unsigned long long)l.full);
		return;
	}
	if (t->opts->events) {
		fprintf(stderr,
			"tcpphase: %llu state changes; lost %llu (ring buffer full %llu, recursion "
			"%llu of %llu misses, %llu rescued; unseen %llu; table full %llu); missed "
			"transitions %llu, duplicates %llu\n",
			(unsigned long long)st.events, (unsigned long long)total,
			(unsigned long long)l.rb_drops, (unsigned long long)l.recursion,
			(unsigned long long)l.misses, (unsigned long long)l.rescued,
			(unsigned long long)l.unseen, (unsigned long long)l.full,
			(unsigned long long)st.missed, (unsigned long long)st.duplicates);
		return;
	}
	fprintf(stderr,
		"tcpphase: %llu events, %llu records (%llu partial); lost %llu (ring buffer "
		"full %llu, recursion %llu of %llu misses, %llu rescued; unseen %llu; table "
		"full %llu); missed transitions %llu\n",
		(unsigned long long)st.events, (unsigned long long)st.records,
		(unsigned long long)st.partial, (unsigned long long)total,
		(unsigned long long)l.rb_drops, (unsigned long long)l.recursion,
		(unsigned long long)l.misses, (unsigned long long)l.rescued,
		(unsigned long long)l.unseen, (unsigned long long)l.full,
		(unsigned long long)st.missed);
	if (st.rst_unjoined) /* a reset whose endpoint's record was not found */
		fprintf(stderr, "tcpphase: %llu resets of traced sockets joined to no record\n",
			(unsigned long long)st.rst_unjoined);
	if (l.unaggregated)
		fprintf(stderr,
			"tcpphase: %llu sockets or requests found no aggregation slot and were "
			"sent per transition (nothing lost; a larger --max-conns gives more slots)\n",
			(unsigned long long)l.unaggregated);
}

void report_kcounters(struct tracer *t)
{
	struct kcounters k;

	if (t->opts->events || kcounters_read(&k))
		return;
	fprintf(stderr,
		"tcpphase: kernel (this netns): TW +%llu, TWKilled +%llu, TWRecycled +%llu, "
		"TCPTimeWaitOverflow +%llu, tw live %llu\n",
		(unsigned long long)(k.tw - t->k0.tw),
		(unsigned long long)(k.tw_killed - t->k0.tw_killed),
		(unsigned long long)(k.tw_recycled - t->k0.tw_recycled),
		(unsigned long long)(k.tw_overflow - t->k0.tw_overflow),
		(unsigned long long)k.tw_live);
}

/* Hand the metrics server what it cannot see in the records. */
void update_metrics(struct tracer *t)
{
	struct metrics_extra x = { 0 };
	struct ct_stats st;
	struct kcounters k;
	struct losses l;

	if (!t->metrics)
		return;
	ct_get_stats(t->pl->table, &st);
	if (t->skel) {
		read_losses(t, &l);
		x.lost_ringbuf = l.rb_drops;
		x.lost_recursion = l.lost;
		x.rescued = l.rescued;
	}
	x.events = st.events;
	x.table_full = t->skel ? l.full : st.table_full;
	x.partial = st.partial;
	if (!kcounters_read(&k)) {
		x.k_tw = k.tw - t->k0.tw;
		x.k_tw_killed = k.tw_killed - t->k0.tw_killed;
		x.k_tw_recycled = k.tw_recycled - t->k0.tw_recycled;
		x.k_tw_overflow = k.tw_overflow - t->k0.tw_overflow;
		x.k_tw_live = k.tw_live;
	}
	if (t->skel && t->gauges && !gauges_read(t, t->gauge_base, x.endpoints))
		x.have_endpoints = true;
	metrics_set_extra(t->metrics, &x);
}
