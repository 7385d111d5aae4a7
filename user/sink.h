/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sink.h - where records go. An output (the --events stream, the lifecycle
 * table or CSV, summaries) is a sink fed by the connection table; adding
 * one does not touch the table. All sinks write through one buffered
 * stream that is flushed once per batch of events.
 */
#ifndef __SINK_H
#define __SINK_H

#include <stdbool.h>
#include <stdio.h>

#include "conntable.h"

/* Shared by the sinks: the stream and how to render times. */
struct out {
	FILE *f;
	bool csv;
	bool wide;
	/* wall-clock ns = monotonic ns + wall_offset_ns, taken once at start */
	int64_t wall_offset_ns;
	int err; /* first write error (errno), 0 if none */
};

struct sink {
	void (*header)(struct out *o);
	void (*transition)(struct out *o, const struct event *e, const struct conn *c,
			   int64_t elapsed_ns);
	void (*record)(struct out *o, const struct conn *c, enum rec_kind kind);
};

extern const struct sink events_sink;
extern const struct sink lifecycle_sink;

/* Flush the stream; returns 0 or the errno of the first failed write. */
int out_flush(struct out *o);

#endif /* __SINK_H */
