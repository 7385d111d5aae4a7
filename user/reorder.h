/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reorder.h - put the kernel's records back in time order before the
 * connection table sees them.
 *
 * Aggregating, records reach user space by several ways: the BPF ring
 * buffer (single events) and one ring per CPU (aggregated sockets). Each
 * way keeps its own order, but the table needs one: a TIME_WAIT's end must
 * follow the record of the socket that entered it. Records are queued per
 * way, and handed on by merging the queues on time, once older than a
 * cutoff: by then any earlier record has come in by whichever way it came.
 * A merge, not a sort: each way is in order already, so a record costs a
 * comparison per way.
 */
#ifndef __REORDER_H
#define __REORDER_H

#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "tcpphase.h"

struct reorder;

typedef void (*reorder_event_fn)(void *ctx, const struct event *e);
typedef void (*reorder_agg_fn)(void *ctx, const struct agg_event *a);

/*
 * Way 0 carries events, ways 1..n_agg aggregated records, at most agg_cap
 * (a power of two: the size of the ring they are read in) each.
 */
struct reorder *reorder_new(int n_agg, size_t agg_cap, reorder_event_fn on_event,
			    reorder_agg_fn on_agg, void *ctx);
void reorder_free(struct reorder *r);
/*
 * Queue a record. An event is copied (when memory is short it is handed on
 * at once: -1). An aggregated record is not: it is read where it lies, in
 * its per-CPU ring, and must stay put until handed on; NULL queues a hole
 * (a position with no record). A full way hands the record on at once (-1).
 */
int reorder_event(struct reorder *r, const struct event *e);
int reorder_agg(struct reorder *r, int way, const struct agg_event *a);
/* Hand on, in time order, every record older than cutoff (all: UINT64_MAX). */
void reorder_flush(struct reorder *r, uint64_t cutoff);
size_t reorder_held(const struct reorder *r);
/* Records of one way not yet handed on: the oldest of its ring still in use. */
size_t reorder_held_way(const struct reorder *r, int way);

#endif /* __REORDER_H */
