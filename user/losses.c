// SPDX-License-Identifier: GPL-2.0
/*
 * losses.c - nothing is lost silently: the loader's side of it, reading the
 * programs' counters and the kernel's recursion misses (lossacct.c adds
 * them up and words the report); and the kernel's own TIME_WAIT counters.
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
#include "lossacct.h"
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

uint64_t listen_misses(struct tracer *t)
{
	const struct bpf_program *progs[] = { t->skel->progs.listen_syn, t->skel->progs.listen_drop,
					      t->skel->progs.listen_synack_rtx };
	uint64_t misses = 0;

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct prog_stats ps;
		int fd = bpf_program__fd(progs[i]);

		if (fd >= 0 && !prog_stats_read(fd, &ps))
			misses += ps.recursion_misses;
	}
	return misses;
}

static void read_losses(struct tracer *t, struct losses *l)
{
	struct loss_inputs in = { .cnt = { 0 } };

	percpu_counters_read(bpf_map__fd(t->skel->maps.counters), in.cnt, CNT_MAX);
	in.misses = recursion_misses(t);
	in.ring_skipped = t->agg.rd.skipped;
	in.agg_refused = t->pl->agg_refused;
	ct_get_stats(t->pl->table, &in.st);
	losses_account(&in, l);
}

void report_losses(struct tracer *t, bool final)
{
	struct losses l;
	struct ct_stats st;
	uint64_t total;

	read_losses(t, &l);
	ct_get_stats(t->pl->table, &st);
	total = losses_total(&l);
	if (!final && total == t->reported_loss)
		return;
	t->reported_loss = total;
	losses_print(stderr, &l, &st, final, t->opts->events);
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
