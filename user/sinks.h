/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sinks.h - tcpphase's outputs as the pipeline's sinks (pipeline.h): the
 * lifecycle table or CSV (with --open's rows), the --events stream, the
 * summary (printed every -i and at the end), the metrics. Each fills a
 * struct pl_sink; main adds those its options ask for.
 */
#ifndef __SINKS_H
#define __SINKS_H

#include <stdbool.h>
#include <stdio.h>

#include "listen_view.h"
#include "pipeline.h"
#include "sink.h"

struct summary;
struct metrics;
struct log;

/* The summary's sink: what it prints, how often, and where. */
struct summary_sink {
	struct summary *s;
	struct out *out;
	double interval_s; /* -i: print this often (0: at the end only) */
	uint64_t last; /* monotonic ns of the last print (or of the start) */
	/* live: the state gauges, printed under a text summary; NULL: none */
	void (*gauges)(void *ctx, FILE *f);
	void *gauges_ctx;
};

/*
 * The listener view's sink (--listeners): the kernel's counters read each
 * second (live only: read is NULL in a replay), the accept waits of the
 * records, printed every -i and at the end, and served in /metrics.
 */
struct listeners_sink {
	struct listen_view lv;
	struct out *out;
	double interval_s; /* -i: print this often (0: at the end only) */
	uint64_t last;
	struct metrics *metrics; /* NULL: none */
	struct log *log; /* where what its programs missed is said */
	const uint16_t *ports; /* the metrics' lport labels (-L), n_ports of them */
	int n_ports;
	/* live: read the kernel's counters into lv (0 or -errno); its packets missed */
	int (*read)(void *ctx, struct listen_view *lv);
	uint64_t (*misses)(void *ctx);
	void *read_ctx;
};

/* The lifecycle rows (and --open's, with o->open) on o. */
struct pl_sink lifecycle_pl_sink(struct out *o);
/* Every state change on o (--events). */
struct pl_sink events_pl_sink(struct out *o);
struct pl_sink summary_pl_sink(struct summary_sink *ss);
struct pl_sink metrics_pl_sink(struct metrics *m);
struct pl_sink listeners_pl_sink(struct listeners_sink *ls);

#endif /* __SINKS_H */
