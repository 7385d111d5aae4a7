// SPDX-License-Identifier: GPL-2.0
/*
 * reorder.c - per-way FIFO queues merged on time (see reorder.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reorder.h"

/* A ring of records of one size; grows by doubling (cap: a power of two). */
struct fifo {
	char *buf;
	size_t size; /* bytes per record */
	size_t cap, head, n;
};

struct reorder {
	int n_ways;
	struct fifo *ways;
	reorder_event_fn on_event;
	reorder_agg_fn on_agg;
	void *ctx;
};

struct reorder *reorder_new(int n_agg, size_t agg_cap, reorder_event_fn on_event,
			    reorder_agg_fn on_agg, void *ctx)
{
	struct reorder *r = calloc(1, sizeof(*r));

	if (!r || n_agg < 0 || !agg_cap || (agg_cap & (agg_cap - 1)))
		goto fail;
	r->n_ways = 1 + n_agg;
	r->ways = calloc(r->n_ways, sizeof(*r->ways));
	if (!r->ways)
		goto fail;
	r->ways[0].size = sizeof(struct event);
	for (int i = 1; i < r->n_ways; i++) {
		struct fifo *f = &r->ways[i];

		f->size = sizeof(const struct agg_event *);
		f->cap = agg_cap;
		f->buf = malloc(agg_cap * f->size);
		if (!f->buf)
			goto fail;
	}
	r->on_event = on_event;
	r->on_agg = on_agg;
	r->ctx = ctx;
	return r;
fail:
	reorder_free(r);
	return NULL;
}

void reorder_free(struct reorder *r)
{
	if (!r)
		return;
	for (int i = 0; r->ways && i < r->n_ways; i++)
		free(r->ways[i].buf);
	free(r->ways);
	free(r);
}

static void *at(const struct fifo *f, size_t i)
{
	return f->buf + ((f->head + i) & (f->cap - 1)) * f->size;
}

static int push(struct fifo *f, const void *rec)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 4096;
		char *buf = malloc(cap * f->size);

		if (!buf)
			return -1;
		/* unwrap into the new ring */
		for (size_t i = 0; i < f->n; i++)
			memcpy(buf + i * f->size, at(f, i), f->size);
		free(f->buf);
		f->buf = buf;
		f->cap = cap;
		f->head = 0;
	}
	memcpy(at(f, f->n), rec, f->size);
	f->n++;
	return 0;
}

int reorder_event(struct reorder *r, const struct event *e)
{
	if (push(&r->ways[0], e)) {
		r->on_event(r->ctx, e);
		return -1;
	}
	return 0;
}

int reorder_agg(struct reorder *r, int way, const struct agg_event *a)
{
	struct fifo *f = way >= 1 && way < r->n_ways ? &r->ways[way] : NULL;

	/* an aggregated way never grows: it holds what its ring holds at most */
	if (!f || f->n == f->cap) {
		if (a)
			r->on_agg(r->ctx, a);
		return -1;
	}
	push(f, &a);
	return 0;
}

/*
 * The time of the record at the head of a way. Way 0 holds events, the
 * others pointers, NULL for a hole (no record): the oldest of all.
 */
static uint64_t head_ts(const struct reorder *r, const struct fifo *f)
{
	const struct agg_event *a;

	if (f == &r->ways[0])
		return ((const struct event *)at(f, 0))->ts_ns;
	a = *(const struct agg_event **)at(f, 0);
	return a ? a->head.ts_ns : 0;
}

void reorder_flush(struct reorder *r, uint64_t cutoff)
{
	for (;;) {
		struct fifo *best = NULL;
		uint64_t ts = cutoff;

		for (int i = 0; i < r->n_ways; i++) {
			struct fifo *f = &r->ways[i];

			if (f->n && head_ts(r, f) < ts) {
				ts = head_ts(r, f);
				best = f;
			}
		}
		if (!best)
			return;
		if (best == &r->ways[0])
			r->on_event(r->ctx, at(best, 0));
		else if (*(const struct agg_event **)at(best, 0))
			r->on_agg(r->ctx, *(const struct agg_event **)at(best, 0));
		best->head = (best->head + 1) & (best->cap - 1);
		best->n--;
	}
}

size_t reorder_held_way(const struct reorder *r, int way)
{
	return way >= 0 && way < r->n_ways ? r->ways[way].n : 0;
}

size_t reorder_held(const struct reorder *r)
{
	size_t n = 0;

	for (int i = 0; i < r->n_ways; i++)
		n += r->ways[i].n;
	return n;
}
