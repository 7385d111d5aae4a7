/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tracer.h - the live tracer's state, shared by the loader's modules:
 * live.c (the poll loop), bpfsetup.c (open, configure, load, attach),
 * losses.c (what was lost, kernel counters, metrics extras), gauges.c.
 * Events leave them through the pipeline only (pipeline.h).
 */
#ifndef __TRACER_H
#define __TRACER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <linux/types.h>

#include "aggring.h"
#include "kcounters.h"
#include "listen_view.h"
#include "log.h"
#include "opts.h"
#include "pipeline.h"
#include "tcpphase.h"

struct tcpphase_bpf;
struct ring_buffer;
struct metrics;

struct tracer {
	const struct options *opts;
	struct pipeline *pl;
	struct log *log; /* warnings and errors for the edge */
	struct metrics *metrics; /* its extras come from here (losses.c); NULL: none */
	struct tcpphase_bpf *skel;
	struct ring_buffer *rb;
	struct aggring agg;
	struct kcounters k0;
	bool gauges; /* the state gauges are kept (--metrics, --summary) */
	int64_t gauge_base[GAUGE_SLOTS]; /* sockets per state when tracing began */
	uint64_t reported_loss;
};

/* The ring buffer's callback: ctx, a record and its length (libbpf's ring_buffer_sample_fn). */
typedef int (*ring_record_fn)(void *ctx, void *data, size_t len);

/*
 * bpfsetup.c: check, open, configure, load, measure HZ, map the rings and
 * make the ring buffer, whose records go to fn(ctx); then, once whatever
 * must see every event is ready, attach. 0, or -1 with the reason in the log.
 */
int bpf_load(struct tracer *t, ring_record_fn fn, void *ctx);
int bpf_attach(struct tracer *t);
/* Name the running kernel's reset reasons from its BTF (rstreason.h), for -r. */
void rst_reasons_load(void);
/* Read one tw sock with probe_tw: 0, or -errno (-ENOENT: no longer that tw sock). */
int probe_tw(struct tracer *t, uint64_t tw, uint8_t *substate, __u64 *expires_ns);

/* listenmap.c: read the kernel's listen_stats into lv; 0 or -ENOMEM */
int listenmap_read(struct tracer *t, struct listen_view *lv);

/* losses.c */
void report_losses(struct tracer *t, bool final);
/* Packets the listener view's programs missed (recursion): its counts may be short. */
uint64_t listen_misses(struct tracer *t);
void report_kcounters(struct tracer *t);
void update_metrics(struct tracer *t);

#endif /* __TRACER_H */
