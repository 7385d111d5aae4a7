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

#include "cgroups.h"
#include "conntable.h"

/* Shared by the sinks: the stream and how to render times. */
struct out {
	FILE *f;
	bool csv;
	bool json; /* --json: one JSON object per line, the CSV columns as keys */
	bool wide;
	bool open; /* --open: a row when each handshake ends, before the endpoint's own */
	/* wall-clock ns = monotonic ns + wall_offset_ns, taken once at start */
	int64_t wall_offset_ns;
	int err; /* first write error (errno), 0 if none */
	struct cgroups *cg; /* cgroup ids to paths and workloads; NULL: columns empty */
};

struct sink {
	void (*header)(struct out *o);
	void (*transition)(struct out *o, const struct event *e, const struct conn *c,
			   int64_t elapsed_ns);
	void (*record)(struct out *o, const struct conn *c, enum rec_kind kind);
	/* c's handshake just ended, ok or not (--open) */
	void (*opened)(struct out *o, const struct conn *c);
};

extern const struct sink events_sink;
extern const struct sink lifecycle_sink;

/* The CSV columns (and JSON keys) of each output with rows (row.h). */
struct columns;
extern const struct columns lifecycle_cols;
extern const struct columns events_cols;
extern const struct columns stuck_cols;

/* An endpoint stuck in CLOSE_WAIT or FIN_WAIT2, for --stuck. */
struct stuck {
	int state;
	int64_t age_ns; /* -1: unknown (open before tracing began) */
	uint32_t pid; /* 0: unknown */
	const char *comm;
	uint32_t netns; /* 0: unknown */
	uint8_t family;
	const uint8_t *laddr, *raddr;
	uint16_t lport, rport;
	uint64_t cgroup; /* 0: unknown */
};

/* One --stuck line on f (a text line, or JSON with o->json); now_ns: monotonic. */
void stuck_print(struct out *o, FILE *f, const struct stuck *s, uint64_t now_ns);

/* Flush the stream; returns 0 or the errno of the first failed write. */
int out_flush(struct out *o);

#endif /* __SINK_H */
