/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pool.h - fixed-size objects carved from large chunks, kept for reuse.
 *
 * The connection table holds an object per endpoint through its 60 s
 * TIME_WAIT: ~100k of them at full churn. Allocated one by one, each new
 * page of them cost a page fault in the tracer's hot path; chunks of up to
 * 2 MiB, backed by a transparent huge page where the kernel allows it, cost
 * one. Objects are never handed back to the system until the pool goes.
 */
#ifndef __POOL_H
#define __POOL_H

#include <stddef.h>

struct pool {
	size_t size; /* object size, rounded up to 16 */
	size_t chunk_bytes; /* the next chunk's size: doubles up to 2 MiB */
	void *free; /* objects put back, linked through their first word */
	void *chunks; /* every chunk, linked through its first word */
	char *next; /* the current chunk's first object never handed out */
	char *end;
};

void pool_init(struct pool *p, size_t size);
/* A zeroed object, or NULL when memory is short. */
void *pool_get(struct pool *p);
void pool_put(struct pool *p, void *o);
/* Frees every chunk: every object ever handed out goes with them. */
void pool_destroy(struct pool *p);

/* calloc for large arrays, in huge pages where the kernel allows it. */
void *huge_calloc(size_t n, size_t size);

#endif /* __POOL_H */
