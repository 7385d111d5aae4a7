/* SPDX-License-Identifier: GPL-2.0 */
/*
 * u64map.h - a bounded open-addressing hash map from non-zero 64-bit keys
 * (kernel object addresses, tuple hashes) to pointers. The connection
 * table does several lookups per event; this keeps them to one probe and
 * no allocation. The map never grows past the capacity it was made with.
 */
#ifndef __U64MAP_H
#define __U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct u64map;

/* A map that holds up to max_items entries; NULL on allocation failure. */
struct u64map *u64map_new(size_t max_items);
void u64map_free(struct u64map *m);
void *u64map_get(const struct u64map *m, uint64_t key);
/* 0 on success, -1 when the map is full (or key is 0). Replaces an existing key. */
int u64map_put(struct u64map *m, uint64_t key, void *val);
/*
 * Put key -> val and return the value it replaces (NULL if none) in *old:
 * one probe where a get and a put take two. -1 (and *old NULL) when full.
 */
int u64map_swap(struct u64map *m, uint64_t key, void *val, void **old);
/* The value removed, or NULL. */
void *u64map_del(struct u64map *m, uint64_t key);
size_t u64map_count(const struct u64map *m);
/* Calls fn on every entry; fn may not modify the map. */
void u64map_each(const struct u64map *m, void (*fn)(uint64_t key, void *val, void *ctx), void *ctx);

#endif /* __U64MAP_H */
