/* SPDX-License-Identifier: GPL-2.0 */
/*
 * session.h - what main sets up for a source to run: the options, the
 * pipeline with its sinks, the output stream, the log. The sources are
 * live.c (the BPF programs) and replay.c (a recording); each returns the
 * exit status and leaves its warnings and errors in the log.
 */
#ifndef __SESSION_H
#define __SESSION_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "log.h"
#include "opts.h"
#include "pipeline.h"
#include "sink.h"
#include "sinks.h"

struct metrics;

/* The live loop polls this often; a replay ticks the table as often, in event time. */
#define POLL_MS 20
#define POLL_NS (POLL_MS * 1000000ULL)

static inline uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct session {
	const struct options *opts;
	struct pipeline *pl;
	struct out *out;
	struct summary_sink *summary; /* NULL: no --summary */
	struct metrics *metrics; /* NULL: no --metrics */
	struct listeners_sink *listeners; /* NULL: no --listeners */
	struct log *log;
	volatile sig_atomic_t *stop; /* set by SIGINT and SIGTERM */
	/*
	 * Live: set up the outputs and their sinks once the programs are up
	 * (a failure to load writes no header, starts no server); 0 or -1.
	 */
	int (*open_outputs)(void *ctx);
	void *ctx;
};

/* Trace until stopped or -d; the edge for its run (prints the log as it goes). */
int live_run(struct session *s);
/* Feed the recording -r names through the pipeline. */
int replay_run(struct session *s);

#endif /* __SESSION_H */
