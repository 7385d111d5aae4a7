/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tracer.h - the live tracer's state, shared by the loader's modules:
 * tcpphase.c (main, poll loop, replay), bpfsetup.c (open, configure, load,
 * attach), losses.c (what was lost, kernel counters, metrics extras).
 */
#ifndef __TRACER_H
#define __TRACER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <linux/types.h>

#include "conntable.h"
#include "kcounters.h"
#include "metrics.h"
#include "opts.h"
#include "record.h"
#include "listen_view.h"
#include "reorder.h"
#include "sink.h"
#include "summary.h"
#include "tcpphase.h"

#define POLL_MS 20
/* A record reaches user space within this long of its time (reorder.h). */
#define HOLD_NS 10000000ULL
#define MAX_RING_CPUS 1024
#define LOSS_CHECK_NS 1000000000ULL

struct tcpphase_bpf;
struct ring_buffer;

struct tracer {
	struct options opts;
	struct tcpphase_bpf *skel;
	struct ring_buffer *rb;
	struct conntable *table;
	struct out out;
	struct summary *summary;
	struct metrics *metrics;
	struct recorder *recorder;
	struct kcounters k0;
	bool gauges; /* the state gauges are kept (--metrics, --summary) */
	int64_t gauge_base[GAUGE_SLOTS]; /* sockets per state when tracing began */
	uint64_t reported_loss;
	uint64_t last_summary;
	int rec_err; /* first recorder error, -errno */
	int rb_err; /* the ring buffer failed (-errno): tracing ended, exit status 1 */
	uint64_t rec_key; /* names the kernel addresses in the recording (random) */
	uint64_t rec_refused; /* events the recording format refused */
	struct reorder *reorder; /* records from both ways, back in time order */
	struct listen_view lview; /* --listeners: what each listening port went through */
	/* the per-CPU rings of aggregated records (aggring.c) */
	const struct agg_ring_rec *ring;
	struct agg_ring_pos *ring_pos;
	size_t ring_len, pos_len;
	int ring_cpus;
	uint64_t ring_read[MAX_RING_CPUS]; /* next position to read, per CPU */
	uint64_t ring_stuck_since[MAX_RING_CPUS], ring_stuck_pos[MAX_RING_CPUS];
	uint64_t ring_skipped; /* positions claimed but never published: lost */
	uint64_t agg_refused; /* aggregated records that expand to nothing: lost */
};

/* tcpphase.c */
uint64_t now_ns(clockid_t clk);
void __attribute__((format(printf, 1, 2))) die_msg(const char *fmt, ...);
int handle_event(void *ctx, void *data, size_t len);
void feed_event(struct tracer *t, const struct event *e);
void feed_agg(struct tracer *t, const struct agg_event *a);
void record_event(struct tracer *t, const struct event *e);

/* bpfsetup.c: open -> configure -> load -> attach; 0, or -1 with the reason printed */
int start_bpf(struct tracer *t);
/* Name the running kernel's reset reasons from its BTF (rstreason.h), for -r. */
void rst_reasons_load(void);
/* Read one tw sock with probe_tw: 0, or -errno (-ENOENT: no longer that tw sock). */
int probe_tw(struct tracer *t, uint64_t tw, uint8_t *substate, __u64 *expires_ns);

/* aggring.c: size the rings before load, map them after; 0 or -errno */
int aggring_configure(struct tracer *t);
int aggring_open(struct tracer *t);
void aggring_close(struct tracer *t);
/* Feed the records published so far; returns how many. */
int aggring_consume(struct tracer *t, uint64_t now);
void aggring_release(struct tracer *t);
/* At exit, programs detached: feed what the aggregation slots still hold. */
void drain_slots(struct tracer *t);

/* listenmap.c: read the kernel's listen_stats into t->lview; 0 or -ENOMEM */
int listenmap_read(struct tracer *t);

/* losses.c */
void report_losses(struct tracer *t, bool final);
/* Packets the listener view's programs missed (recursion): its counts may be short. */
uint64_t listen_misses(struct tracer *t);
void report_kcounters(struct tracer *t);
void update_metrics(struct tracer *t);

#endif /* __TRACER_H */
