/* SPDX-License-Identifier: GPL-2.0 */
/*
 * aggread.h - what the kernel's aggregation leaves in shared memory, read
 * without libbpf: the per-CPU rings of records (struct agg_ring_rec, in the
 * order of their positions, a claimed position that is never published
 * skipped after a while), and at exit the open sockets' slots and the
 * per-CPU request waits. aggring.c maps the memory; this reads it, so unit
 * tests can drive it with arrays of their own.
 */
#ifndef __AGGREAD_H
#define __AGGREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "tcpphase.h"

/* More CPUs than this: no per-CPU rings, every transition sent on its own. */
#define MAX_RING_CPUS 1024
/* A position that stays unpublished this long was lost to a failed claim. */
#define RING_STUCK_NS 1000000000ULL

/* The rings as mapped: cpus << bits records, one agg_ring_pos per CPU. */
struct ring_reader {
	const struct agg_ring_rec *ring;
	struct agg_ring_pos *pos;
	int cpus;
	uint32_t bits;
	uint64_t read[MAX_RING_CPUS]; /* next position to read, per CPU */
	uint64_t stuck_since[MAX_RING_CPUS], stuck_pos[MAX_RING_CPUS];
	uint64_t skipped; /* positions claimed but never published: lost */
};

/*
 * Called for each record of CPU cpu's ring, in order; a NULL: a hole (a
 * position never published). The record stays where it lies, in the ring,
 * until ring_release gives its place back.
 */
typedef void (*ring_rec_fn)(void *ctx, int cpu, const struct agg_event *a);
/* How many of CPU cpu's records handed out are still in use by the caller. */
typedef size_t (*ring_held_fn)(void *ctx, int cpu);

/* Hand out every record published so far (now: monotonic ns); returns how many. */
int ring_read(struct ring_reader *r, uint64_t now, ring_rec_fn fn, void *ctx);
/* Give the producers back the positions read and no longer held. */
void ring_release(struct ring_reader *r, ring_held_fn held, void *ctx);

/* A socket slot still in use at exit, as the EV_AGG record it holds; false: none. */
bool slot_record(const struct sock_slot *s, struct agg_event *out);
/*
 * A request whose child never came, still waiting at exit: the REQ_START
 * and REQ_CANCEL its events would have been, in out; returns 0 or 2.
 */
int req_wait_events(const struct req_wait *w, struct event out[2]);

#endif /* __AGGREAD_H */
