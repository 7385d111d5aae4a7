/* SPDX-License-Identifier: GPL-2.0 */
/*
 * aggring.h - the per-CPU rings of aggregated records and TIME_WAIT events
 * (struct agg_ring_rec in bpf/tcpphase.h), on the loader's side: sized
 * before load, mmap'ed after it, read (aggread.h) into the reorder stage on
 * every pass of the poll loop; at exit, what the aggregation slots still
 * hold.
 */
#ifndef __AGGRING_H
#define __AGGRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggread.h"
#include "log.h"

struct tcpphase_bpf;
struct reorder;

struct aggring {
	struct ring_reader rd; /* the rings as mapped; rd.ring NULL: none */
	size_t ring_len, pos_len; /* of the two mappings */
};

/* Before load: size the rings for this machine's CPUs; 0 or -errno. */
int aggring_configure(struct aggring *ar, struct tcpphase_bpf *s, struct log *log);
/* After load: map the rings (none when not aggregating); 0 or -errno. */
int aggring_open(struct aggring *ar, struct tcpphase_bpf *s);
void aggring_close(struct aggring *ar);
/* Queue the records published so far in ro (way 1 + CPU); returns how many. */
int aggring_consume(struct aggring *ar, struct reorder *ro, uint64_t now);
/* Give the producers back what ro has handed on. */
void aggring_release(struct aggring *ar, struct reorder *ro);

typedef void (*drain_agg_fn)(void *ctx, const struct agg_event *a);
typedef void (*drain_event_fn)(void *ctx, const struct event *e);
/* At exit, programs detached: hand on what the slots and request waits still hold. */
void drain_slots(struct tcpphase_bpf *s, drain_agg_fn agg, drain_event_fn event, void *ctx,
		 struct log *log);

#endif /* __AGGRING_H */
