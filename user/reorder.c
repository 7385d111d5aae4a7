// SPDX-License-Identifier: GPL-2.0
/*
 * reorder.c - per-way FIFO queues merged on time (see reorder.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reorder.h"

/* A ring of records of one size; grows by doubling. */
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

struct reorder *reorder_new(int n_agg, reorder_event_fn on_event, reorder_agg_fn on_agg, void *ctx)
{
	struct reorder *r = calloc(1, sizeof(*r));

	if (!r || n_agg < 0)
		goto fail;
	r->n_ways = 1 + n_agg;
	r->ways = calloc(r->n_ways, sizeof(*r->ways));
	if (!r->ways)
		goto fail;
	r->ways[0].size = sizeof(struct event);
	for (int i = 1; i < r->n_ways; i++)
		r->ways[i].size = sizeof(struct agg_event);
	r->on_event = on_event;
	r->on_agg = on_agg;
	r->ctx = ctx;
	return r;
fail:
	free(r);
	return NULL;
}

void reorder_free(struct reorder *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n_ways; i++)
		free(r->ways[i].buf);
	free(r->ways);
	free(r);
}

static void *at(const struct fifo *f, size_t i)
{
	return f->buf + ((f->head + i) % f->cap) * f->size;
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
	if (way < 1 || way >= r->n_ways || push(&r->ways[way], a)) {
		r->on_agg(r->ctx, a);
		return -1;
	}
	return 0;
}

/* Both record types start with a struct event: its ts_ns is the time. */
static uint64_t head_ts(const struct fifo *f)
{
	return ((const struct event *)at(f, 0))->ts_ns;
}

void reorder_flush(struct reorder *r, uint64_t cutoff)
{
	for (;;) {
		struct fifo *best = NULL;
		uint64_t ts = cutoff;

		for (int i = 0; i < r->n_ways; i++) {
			struct fifo *f = &r->ways[i];

			if (f->n && head_ts(f) < ts) {
				ts = head_ts(f);
				best = f;
			}
		}
		if (!best)
			return;
		if (best == &r->ways[0])
			r->on_event(r->ctx, at(best, 0));
		else
			r->on_agg(r->ctx, at(best, 0));
		best->head = (best->head + 1) % best->cap;
		best->n--;
	}
}

size_t reorder_held(const struct reorder *r)
{
	size_t n = 0;

	for (int i = 0; i < r->n_ways; i++)
		n += r->ways[i].n;
	return n;
}
