// SPDX-License-Identifier: GPL-2.0
/*
 * pool.c - object pools in large chunks (see pool.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pool.h"

#define HUGE_PAGE (2UL << 20)
#define FIRST_CHUNK (64UL << 10)
#define CHUNK_HEADER 16 /* the chunk list link, objects 16-byte aligned after it */

/*
 * Zeroed memory; from 2 MiB up, aligned to and advised as huge pages so
 * that the first touch maps 2 MiB at once.
 */
static void *alloc_zeroed(size_t bytes)
{
	void *p;

	if (bytes < HUGE_PAGE)
		return calloc(1, bytes);
	bytes = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	p = aligned_alloc(HUGE_PAGE, bytes);
	if (!p)
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 0, bytes);
	return p;
}

void *huge_calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return alloc_zeroed(n * size);
}

void pool_init(struct pool *p, size_t size)
{
	memset(p, 0, sizeof(*p));
	p->size = (size + 15) & ~(size_t)15;
	p->chunk_bytes = FIRST_CHUNK;
}

void *pool_get(struct pool *p)
{
	void *o = p->free;

	if (o) {
		p->free = *(void **)o;
		memset(o, 0, p->size);
		return o;
	}
	if (!p->next || p->size > (size_t)(p->end - p->next)) {
		char *c = alloc_zeroed(p->chunk_bytes);

		if (!c)
			return NULL;
		*(void **)c = p->chunks;
		p->chunks = c;
		p->next = c + CHUNK_HEADER;
		p->end = c + p->chunk_bytes;
		if (p->chunk_bytes < HUGE_PAGE)
			p->chunk_bytes *= 2;
	}
	o = p->next;
	p->next += p->size;
	return o; /* fresh chunk memory is zeroed */
}

void pool_put(struct pool *p, void *o)
{
	if (!o)
		return;
	*(void **)o = p->free;
	p->free = o;
}

void pool_destroy(struct pool *p)
{
	while (p->chunks) {
		void *c = p->chunks;

		p->chunks = *(void **)c;
		free(c);
	}
	pool_init(p, p->size);
}
