/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pipeline.h - where every event goes, whatever its source: the live ring
 * buffer and per-CPU rings (live.c) or a recording (replay.c). An event is
 * recorded (-W) and fed to the connection table; the table's records,
 * parts, transitions and resets go to every sink (the lifecycle table or
 * CSV, the --events stream, the summary, the metrics: sinks.h). Adding a
 * sink touches neither the table nor the sources.
 *
 * Times are CLOCK_MONOTONIC ns: the kernel's, or the recording's.
 */
#ifndef __PIPELINE_H
#define __PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"

struct recorder;
struct reorder;

/* One output; every hook may be NULL. */
struct pl_sink {
	void *ctx;
	/* a state change with its socket's record (transitions mode only) */
	void (*transition)(void *ctx, const struct event *e, const struct conn *c,
			   int64_t elapsed_ns);
	/* an endpoint's record (not in transitions mode) */
	void (*record)(void *ctx, const struct conn *c, enum rec_kind kind);
	/* parts of an endpoint known for good, CT_PART() bits (not in transitions mode) */
	void (*parts)(void *ctx, const struct conn *c, unsigned int parts);
	/* every reset, ours or not */
	void (*reset)(void *ctx, const struct event *e);
	/* tracing began at now (a replay: when its recording began) */
	void (*start)(void *ctx, uint64_t now);
	/* about once a second: wall time live, event time in a replay */
	void (*periodic)(void *ctx, uint64_t now);
	/* tracing ended at now; the table has written everything */
	void (*finish)(void *ctx, uint64_t now);
};

#define PL_MAX_SINKS 6

struct pipeline {
	struct conntable *table;
	struct pl_sink sinks[PL_MAX_SINKS];
	int n_sinks;
	bool transitions; /* pl_init's: the sinks get state changes, not records */
	/* live and aggregating: the two ways' records put back in time order */
	struct reorder *reorder;
	/* -W: the recording, NULL if none; its errors are the pipeline's */
	struct recorder *recorder;
	uint64_t rec_key; /* names the kernel addresses in the recording (random) */
	int rec_err; /* first recorder error, -errno */
	uint64_t rec_refused; /* events the recording format refused */
	uint64_t agg_refused; /* aggregated records that expand to nothing: lost */
};

/*
 * The table, bounded to max_conns; transitions: the sinks get every state
 * change (--events) instead of records and parts. 0 or -ENOMEM.
 */
int pl_init(struct pipeline *p, uint32_t max_conns, bool transitions);
/* Sinks are fed in the order they were added; 0 or -ENOSPC. */
int pl_add_sink(struct pipeline *p, const struct pl_sink *s);
/* Frees the table and the reorder stage; the recorder is its opener's. */
void pl_free(struct pipeline *p);

/* One event: recorded, then fed to the table. */
void pl_event(struct pipeline *p, const struct event *e);
/* An aggregated record, as the events it stands for (or a single event). */
void pl_agg(struct pipeline *p, const struct agg_event *a);
/* The ring buffer's callback (ctx: the pipeline): a record, or a wake-up call. */
int pl_ring_record(void *ctx, void *data, size_t len);
/* An event of a recording: fed to the table only. */
void pl_replayed(struct pipeline *p, const struct event *e);

/* Settle what waited its grace period (every poll interval). */
void pl_tick(struct pipeline *p, uint64_t now);
void pl_start(struct pipeline *p, uint64_t now);
void pl_periodic(struct pipeline *p, uint64_t now);
/* The end at now: recorded, the table flushed, the sinks told. */
void pl_finish(struct pipeline *p, uint64_t now);
/* Write out what the recording buffers; returns the first recorder error, or 0. */
int pl_flush_recording(struct pipeline *p);

#endif /* __PIPELINE_H */
