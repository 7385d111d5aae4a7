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
#define CHUNK_HEADER 16 /* the chunk list link and the chunk's size; objects after it */

/*
 * Fresh anonymous memory, 2 MiB-aligned and advised as huge pages so that
 * the first touch maps 2 MiB at once. The kernel hands it out zeroed: it is
 * not written again (zeroing it twice was a tenth of the tracer's time
 * while its table grew).
 */
static void *map_huge(size_t bytes)
{
	size_t span = bytes + HUGE_PAGE;
	char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *start;

	if (p == MAP_FAILED)
		return NULL;
	start = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
	if (start > p)
		munmap(p, start - p);
	if (p + span > start + bytes)
		munmap(start + bytes, p + span - (start + bytes));
	madvise(start, bytes, MADV_HUGEPAGE);
	return start;
}

static size_t huge_round(size_t bytes)
{
	return (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

/* Zeroed memory: from the heap below 2 MiB, else mapped (map_huge). */
static void *alloc_zeroed(size_t bytes)
{
	if (bytes < HUGE_PAGE)
		return calloc(1, bytes);
	return map_huge(huge_round(bytes));
}

static void free_zeroed(void *p, size_t bytes)
{
	if (!p)
		return;
	if (bytes < HUGE_PAGE)
		free(p);
	else
		munmap(p, huge_round(bytes));
}

void *huge_calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return alloc_zeroed(n * size);
}

void huge_free(void *p, size_t n, size_t size)
{
	free_zeroed(p, n * size);
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
		((size_t *)c)[1] = p->chunk_bytes;
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
		free_zeroed(c, ((size_t *)c)[1]);
	}
	pool_init(p, p->size);
}
