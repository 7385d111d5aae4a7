// SPDX-License-Identifier: GPL-2.0
/*
 * reorder.c - a time-ordered holding area for records (see reorder.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reorder.h"

struct held {
	uint64_t ts;
	uint64_t seq; /* arrival order: keeps ties as they came */
	bool agg;
	union {
		struct event e;
		struct agg_event a;
	};
};

struct key {
	uint64_t ts;
	uint64_t seq;
	uint32_t idx;
};

struct reorder {
	struct held *h;
	struct key *keys;
	size_t n, cap;
	uint64_t next_seq;
	reorder_event_fn on_event;
	reorder_agg_fn on_agg;
	void *ctx;
};

struct reorder *reorder_new(reorder_event_fn on_event, reorder_agg_fn on_agg, void *ctx)
{
	struct reorder *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->on_event = on_event;
	r->on_agg = on_agg;
	r->ctx = ctx;
	return r;
}

void reorder_free(struct reorder *r)
{
	if (!r)
		return;
	free(r->h);
	free(r->keys);
	free(r);
}

static struct held *slot(struct reorder *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 1024;
		struct held *h = realloc(r->h, cap * sizeof(*h));
		struct key *k;

		if (!h)
			return NULL;
		r->h = h;
		k = realloc(r->keys, cap * sizeof(*k));
		if (!k)
			return NULL;
		r->keys = k;
		r->cap = cap;
	}
	return &r->h[r->n++];
}

int reorder_event(struct reorder *r, const struct event *e)
{
	struct held *h = slot(r);

	if (!h) {
		r->on_event(r->ctx, e);
		return -1;
	}
	h->ts = e->ts_ns;
	h->seq = r->next_seq++;
	h->agg = false;
	h->e = *e;
	return 0;
}

int reorder_agg(struct reorder *r, const struct agg_event *a)
{
	struct held *h = slot(r);

	if (!h) {
		r->on_agg(r->ctx, a);
		return -1;
	}
	h->ts = a->head.ts_ns;
	h->seq = r->next_seq++;
	h->agg = true;
	h->a = *a;
	return 0;
}

static int key_cmp(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void reorder_flush(struct reorder *r, uint64_t cutoff)
{
	size_t i, done = 0, kept = 0;

	if (!r->n)
		return;
	for (i = 0; i < r->n; i++) {
		r->keys[i].ts = r->h[i].ts;
		r->keys[i].seq = r->h[i].seq;
		r->keys[i].idx = i;
	}
	qsort(r->keys, r->n, sizeof(*r->keys), key_cmp);
	for (; done < r->n && r->keys[done].ts < cutoff; done++) {
		const struct held *h = &r->h[r->keys[done].idx];

		if (h->agg)
			r->on_agg(r->ctx, &h->a);
		else
			r->on_event(r->ctx, &h->e);
	}
	if (done == r->n) {
		r->n = 0;
		return;
	}
	/* keep the younger ones, in arrival order, for the next flush */
	for (i = 0; i < r->n; i++)
		if (r->h[i].ts >= cutoff)
			r->h[kept++] = r->h[i];
	r->n = kept;
}

size_t reorder_held(const struct reorder *r)
{
	return r->n;
}
