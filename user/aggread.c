// SPDX-License-Identifier: GPL-2.0
/*
 * aggread.c - reading the aggregation's shared memory (aggread.h): the
 * per-CPU rings, whose records are published by a sequence number written
 * last (bpf/emit.bpf.h), and the slots and request waits left at exit.
 */
#include <stddef.h>

#include "aggread.h"

int ring_read(struct ring_reader *r, uint64_t now, ring_rec_fn fn, void *ctx)
{
	uint64_t mask = (1ULL << r->bits) - 1;
	int n = 0;

	if (!r->ring)
		return 0;
	for (int c = 0; c < r->cpus; c++) {
		struct agg_ring_pos *p = &r->pos[c];
		uint64_t pos = r->read[c], head = __atomic_load_n(&p->head, __ATOMIC_ACQUIRE);

		while (pos != head) {
			const struct agg_ring_rec *rec =
				&r->ring[(uint64_t)c << r->bits | (pos & mask)];

			if (__atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE) != pos + 1) {
				/* claimed, not yet published: wait, unless it never will be */
				if (!r->stuck_since[c] || r->stuck_pos[c] != pos) {
					r->stuck_since[c] = now;
					r->stuck_pos[c] = pos;
					break;
				}
				if (now - r->stuck_since[c] < RING_STUCK_NS)
					break;
				r->skipped++;
				/* handed out as a hole: the producer waits until it is passed */
				fn(ctx, c, NULL);
				pos++;
				continue;
			}
			fn(ctx, c, &rec->rec);
			pos++;
			n++;
		}
		r->read[c] = pos;
	}
	return n;
}

void ring_release(struct ring_reader *r, ring_held_fn held, void *ctx)
{
	for (int c = 0; c < r->cpus && r->ring; c++)
		__atomic_store_n(&r->pos[c].tail, r->read[c] - held(ctx, c), __ATOMIC_RELEASE);
}

/*
 * A slot keeps its steps only: the head the kernel would have sent at the
 * socket's close is made here from the last step.
 */
bool slot_record(const struct sock_slot *s, struct agg_event *out)
{
	const struct agg_step *last;

	if (!s->sk || s->rec.n_steps < 1 || s->rec.n_steps > AGG_STEPS)
		return false;
	*out = s->rec;
	last = &out->steps[out->n_steps - 1];
	out->head.type = EV_AGG;
	out->head.id = s->sk;
	out->head.ts_ns = last->ts_ns;
	out->head.oldstate = last->oldstate;
	out->head.newstate = last->newstate;
	out->head.aux = 0;
	return true;
}

int req_wait_events(const struct req_wait *w, struct event out[2])
{
	if (!w->pending || w->sent)
		return 0;
	out[0] = w->ev;
	out[0].type = EV_REQ_START;
	out[1] = w->ev;
	out[1].type = EV_REQ_CANCEL;
	out[1].ts_ns = w->cancel_ns;
	return 2;
}
