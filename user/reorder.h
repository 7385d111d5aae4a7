/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reorder.h - put the kernel's records back in time order before the
 * connection table sees them.
 *
 * Records reach user space by two ways: the BPF ring buffer (single events)
 * and the per-CPU rings (aggregated sockets). Each way keeps its own order,
 * but the table needs one: a TIME_WAIT's end must follow the record of the
 * socket that entered it, a request's events the child that took it over.
 * Records are held here, sorted by time (ties in arrival order), and handed
 * on once they are older than a cutoff: by then any earlier record has
 * reached user space by whichever way it came.
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

struct reorder *reorder_new(reorder_event_fn on_event, reorder_agg_fn on_agg, void *ctx);
void reorder_free(struct reorder *r);
/* Hold a copy; -1 when memory is short (then the record is handed on at once). */
int reorder_event(struct reorder *r, const struct event *e);
int reorder_agg(struct reorder *r, const struct agg_event *a);
/* Hand on, in time order, every record older than cutoff (all: UINT64_MAX). */
void reorder_flush(struct reorder *r, uint64_t cutoff);
size_t reorder_held(const struct reorder *r);

#endif /* __REORDER_H */
