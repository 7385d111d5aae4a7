// SPDX-License-Identifier: GPL-2.0
/*
 * u64map.c - bounded open-addressing hash map with linear probing and
 * backward-shift deletion (no tombstones, so a long run never degrades).
 * The slot array is a power of two, kept at most half full: it starts small
 * (a small table stays in cache) and doubles as needed, up to twice
 * max_items.
 */
#include <stdlib.h>

#include "pool.h"
#include "u64map.h"

struct slot {
	uint64_t key; /* 0: empty */
	void *val;
};

struct u64map {
	struct slot *slots;
	size_t mask;
	size_t count;
	size_t max_items;
	size_t max_slots;
};

#define INITIAL_SLOTS 1024

static size_t slot_of(const struct u64map *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return key & m->mask;
}

struct u64map *u64map_new(size_t max_items)
{
	struct u64map *m = calloc(1, sizeof(*m));
	size_t n = 16;

	if (!m)
		return NULL;
	while (n < 2 * max_items)
		n <<= 1;
	m->max_slots = n;
	if (n > INITIAL_SLOTS)
		n = INITIAL_SLOTS;
	m->slots = calloc(n, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	m->mask = n - 1;
	m->max_items = max_items;
	return m;
}

/* Double the slot array; -1 (and the map unchanged) if memory is short. */
static int grow(struct u64map *m)
{
	size_t n = (m->mask + 1) * 2;
	struct slot *old = m->slots, *slots = huge_calloc(n, sizeof(*slots));
	size_t old_n = m->mask + 1;

	if (!slots)
		return -1;
	m->slots = slots;
	m->mask = n - 1;
	for (size_t i = 0; i < old_n; i++) {
		size_t j;

		if (!old[i].key)
			continue;
		for (j = slot_of(m, old[i].key); slots[j].key; j = (j + 1) & m->mask)
			;
		slots[j] = old[i];
	}
	free(old);
	return 0;
}

void u64map_free(struct u64map *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

/* An empty map answers without a probe: its slots may be cold, its count is not. */
void *u64map_get(const struct u64map *m, uint64_t key)
{
	if (!m->count)
		return NULL;
	for (size_t i = slot_of(m, key);; i = (i + 1) & m->mask) {
		if (m->slots[i].key == key && key)
			return m->slots[i].val;
		if (!m->slots[i].key)
			return NULL;
	}
}

int u64map_swap(struct u64map *m, uint64_t key, void *val, void **old)
{
	size_t i;

	*old = NULL;
	if (!key)
		return -1;
	for (i = slot_of(m, key); m->slots[i].key; i = (i + 1) & m->mask) {
		if (m->slots[i].key == key) {
			*old = m->slots[i].val;
			m->slots[i].val = val;
			return 0;
		}
	}
	if (m->count >= m->max_items)
		return -1;
	if (2 * (m->count + 1) > m->mask + 1 && m->mask + 1 < m->max_slots) {
		if (grow(m))
			return -1;
		for (i = slot_of(m, key); m->slots[i].key; i = (i + 1) & m->mask)
			;
	}
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->count++;
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, void *val)
{
	void *old;

	return u64map_swap(m, key, val, &old);
}

void *u64map_del(struct u64map *m, uint64_t key)
{
	size_t i, j;
	void *val;

	if (!m->count)
		return NULL;
	for (i = slot_of(m, key);; i = (i + 1) & m->mask) {
		if (!m->slots[i].key)
			return NULL;
		if (m->slots[i].key == key)
			break;
	}
	val = m->slots[i].val;
	/* shift back the entries that probed past slot i */
	for (j = (i + 1) & m->mask; m->slots[j].key; j = (j + 1) & m->mask) {
		size_t home = slot_of(m, m->slots[j].key);

		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = 0;
	m->slots[i].val = NULL;
	m->count--;
	return val;
}

size_t u64map_count(const struct u64map *m)
{
	return m->count;
}

void u64map_each(const struct u64map *m, void (*fn)(uint64_t key, void *val, void *ctx), void *ctx)
{
	for (size_t i = 0; i <= m->mask; i++)
		if (m->slots[i].key)
			fn(m->slots[i].key, m->slots[i].val, ctx);
}
