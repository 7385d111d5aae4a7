// SPDX-License-Identifier: GPL-2.0
/*
 * test_u64map.c - the bounded hash map: basic operations, its bound, and
 * long random runs checked against a plain array, so that backward-shift
 * deletion is seen to keep every remaining key reachable.
 */
#include <stdlib.h>

#include "u64map.h"
#include "unit.h"

#define VAL(k) ((void *)(uintptr_t)((k)*2 + 1))

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible across runs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void test_basic(void)
{
	struct u64map *m = u64map_new(8);

	if (!ASSERT_OK_PTR(m, "new"))
		return;
	ASSERT_EQ(u64map_count(m), 0, "empty");
	ASSERT_NULL(u64map_get(m, 1), "get from empty");
	ASSERT_NULL(u64map_del(m, 1), "del from empty");
	ASSERT_OK(u64map_put(m, 1, VAL(1)), "put 1");
	ASSERT_OK(u64map_put(m, 0xffff888012345678ULL, VAL(2)), "put kernel pointer");
	ASSERT_OK(u64map_put(m, UINT64_MAX, VAL(3)), "put max");
	ASSERT_EQ(u64map_count(m), 3, "count 3");
	ASSERT_TRUE(u64map_get(m, 1) == VAL(1), "get 1");
	ASSERT_TRUE(u64map_get(m, 0xffff888012345678ULL) == VAL(2), "get pointer");
	ASSERT_TRUE(u64map_get(m, UINT64_MAX) == VAL(3), "get max");
	ASSERT_NULL(u64map_get(m, 2), "get absent");

	ASSERT_OK(u64map_put(m, 1, VAL(7)), "replace");
	ASSERT_EQ(u64map_count(m), 3, "replace keeps count");
	ASSERT_TRUE(u64map_get(m, 1) == VAL(7), "replaced value");

	ASSERT_TRUE(u64map_del(m, 1) == VAL(7), "del returns value");
	ASSERT_NULL(u64map_get(m, 1), "gone");
	ASSERT_NULL(u64map_del(m, 1), "del twice");
	ASSERT_EQ(u64map_count(m), 2, "count after del");
	ASSERT_TRUE(u64map_get(m, UINT64_MAX) == VAL(3), "others stay");
	u64map_free(m);
	u64map_free(NULL);
}

/* swap: a put that hands back what it replaced. */
static void test_swap(void)
{
	struct u64map *m = u64map_new(2);
	void *old = VAL(9);

	if (!ASSERT_OK_PTR(m, "new"))
		return;
	ASSERT_OK(u64map_swap(m, 5, VAL(1), &old), "swap in");
	ASSERT_NULL(old, "nothing replaced");
	ASSERT_OK(u64map_swap(m, 5, VAL(2), &old), "swap again");
	ASSERT_TRUE(old == VAL(1), "the replaced value");
	ASSERT_TRUE(u64map_get(m, 5) == VAL(2), "the new value");
	ASSERT_OK(u64map_swap(m, 6, VAL(3), &old), "second key");
	old = VAL(9);
	ASSERT_ERR(u64map_swap(m, 7, VAL(4), &old), "full");
	ASSERT_NULL(old, "full: nothing replaced");
	ASSERT_NULL(u64map_get(m, 7), "full: not stored");
	ASSERT_OK(u64map_swap(m, 6, VAL(5), &old), "full, key present: replaced");
	ASSERT_TRUE(old == VAL(3), "its old value");
	old = VAL(9);
	ASSERT_ERR(u64map_swap(m, 0, VAL(1), &old), "key 0 refused");
	ASSERT_NULL(old, "key 0: nothing replaced");
	ASSERT_EQ(u64map_count(m), 2, "count");
	u64map_free(m);
}

static void test_key_zero(void)
{
	struct u64map *m = u64map_new(4);

	if (!ASSERT_OK_PTR(m, "new"))
		return;
	ASSERT_ERR(u64map_put(m, 0, VAL(1)), "put 0 refused");
	ASSERT_EQ(u64map_count(m), 0, "nothing stored");
	ASSERT_NULL(u64map_get(m, 0), "get 0");
	ASSERT_NULL(u64map_del(m, 0), "del 0");
	for (uint64_t k = 1; k <= 4; k++)
		u64map_put(m, k, VAL(k));
	ASSERT_NULL(u64map_get(m, 0), "get 0 with entries");
	ASSERT_NULL(u64map_del(m, 0), "del 0 with entries");
	ASSERT_EQ(u64map_count(m), 4, "count");
	u64map_free(m);
}

static void test_capacity(void)
{
	struct u64map *m = u64map_new(5);

	if (!ASSERT_OK_PTR(m, "new"))
		return;
	for (uint64_t k = 1; k <= 5; k++)
		ASSERT_OK(u64map_put(m, k * 1000, VAL(k)), "put under bound");
	ASSERT_ERR(u64map_put(m, 6000, VAL(6)), "put over bound");
	ASSERT_EQ(u64map_count(m), 5, "count at bound");
	ASSERT_NULL(u64map_get(m, 6000), "refused key absent");
	ASSERT_OK(u64map_put(m, 3000, VAL(9)), "replace when full");
	ASSERT_TRUE(u64map_get(m, 3000) == VAL(9), "replaced when full");
	ASSERT_TRUE(u64map_del(m, 2000) == VAL(2), "del when full");
	ASSERT_OK(u64map_put(m, 6000, VAL(6)), "room again");
	ASSERT_ERR(u64map_put(m, 7000, VAL(7)), "full again");
	u64map_free(m);

	m = u64map_new(0);
	if (ASSERT_OK_PTR(m, "new(0)")) {
		ASSERT_ERR(u64map_put(m, 1, VAL(1)), "bound 0 holds nothing");
		u64map_free(m);
	}
	/* a bound that is not a power of two, filled to the brim */
	m = u64map_new(1000);
	if (ASSERT_OK_PTR(m, "new(1000)")) {
		int fails = 0;

		for (uint64_t k = 1; k <= 1000; k++)
			fails += u64map_put(m, k << 6, VAL(k)) != 0;
		ASSERT_EQ(fails, 0, "1000 fit");
		ASSERT_ERR(u64map_put(m, 1001 << 6, VAL(1)), "1001st refused");
		for (uint64_t k = 1; k <= 1000; k++)
			fails += u64map_get(m, k << 6) != VAL(k);
		ASSERT_EQ(fails, 0, "all found");
		u64map_free(m);
	}
}

/*
 * Random puts and deletes on a small key space against a reference array;
 * after every operation all keys are looked up, so a deletion that breaks
 * a probe chain (a key no longer reachable) shows at once.
 */
static void random_run(size_t cap, uint64_t nkeys, uint64_t stride, int ops)
{
	struct u64map *m = u64map_new(cap);
	void **ref = calloc(nkeys + 1, sizeof(*ref));
	size_t count = 0;
	int lost = 0, ghost = 0, badput = 0, baddel = 0;

	if (!ASSERT_OK_PTR(m, "new") || !ASSERT_OK_PTR(ref, "ref")) {
		u64map_free(m);
		free(ref);
		return;
	}
	for (int op = 0; op < ops; op++) {
		uint64_t i = rnd() % nkeys + 1, key = i * stride;
		uint64_t r = rnd() % 100;

		if (r < 55) {
			void *v = (void *)(uintptr_t)(rnd() | 1);
			int want = ref[i] || count < cap ? 0 : -1;
			int got = u64map_put(m, key, v);

			badput += got != want;
			if (!got) {
				count += !ref[i];
				ref[i] = v;
			}
		} else {
			void *got = u64map_del(m, key);

			baddel += got != ref[i];
			count -= ref[i] != NULL;
			ref[i] = NULL;
		}
		if (u64map_count(m) != count)
			break;
		for (uint64_t j = 1; j <= nkeys; j++) {
			void *got = u64map_get(m, j * stride);

			lost += ref[j] && got != ref[j];
			ghost += !ref[j] && got;
		}
		if (lost || ghost || badput || baddel)
			break;
	}
	ASSERT_EQ(u64map_count(m), count, "count");
	ASSERT_EQ(lost, 0, "keys lost");
	ASSERT_EQ(ghost, 0, "deleted keys found");
	ASSERT_EQ(badput, 0, "put results");
	ASSERT_EQ(baddel, 0, "del results");
	u64map_free(m);
	free(ref);
}

static void test_random(void)
{
	if (SUBTEST("dense")) /* half the keys fit: full often, long runs */
		random_run(64, 128, 1, 20000);
	if (SUBTEST("pointers")) /* slab-aligned kernel addresses */
		random_run(256, 400, 256, 20000);
	if (SUBTEST("tiny")) /* 16 slots, 8 items: every wrap-around */
		random_run(8, 24, 0x10001, 20000);
	if (SUBTEST("sparse"))
		random_run(1024, 1500, 0x9e3779b97f4a7c15ULL, 5000);
}

/* The map's slot hash, copied to build colliding keys; a change only makes this test weaker. */
static size_t home_slot(uint64_t key, size_t mask)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return key & mask;
}

/*
 * Keys that all want the last slot of a 16-slot map (u64map_new(8)): the
 * chain wraps to slot 0, and deleting its head must pull the others back
 * across the wrap, including a key that wants slot 0.
 */
static void test_wrap_delete(void)
{
	uint64_t last[4], first[2];
	int nl = 0, nf = 0;
	struct u64map *m;

	for (uint64_t k = 1; nl < 4 || nf < 2; k++) {
		size_t h = home_slot(k, 15);

		if (h == 15 && nl < 4)
			last[nl++] = k;
		else if (h == 0 && nf < 2)
			first[nf++] = k;
	}
	m = u64map_new(8);
	if (!ASSERT_OK_PTR(m, "new"))
		return;
	for (int i = 0; i < 4; i++)
		ASSERT_OK(u64map_put(m, last[i], VAL(last[i])), "put last-slot key");
	for (int i = 0; i < 2; i++)
		ASSERT_OK(u64map_put(m, first[i], VAL(first[i])), "put first-slot key");
	for (int del = 0; del < 4; del++) {
		ASSERT_TRUE(u64map_del(m, last[del]) == VAL(last[del]), "del head");
		for (int i = del + 1; i < 4; i++)
			ASSERT_TRUE(u64map_get(m, last[i]) == VAL(last[i]), "last-slot key found");
		for (int i = 0; i < 2; i++)
			ASSERT_TRUE(u64map_get(m, first[i]) == VAL(first[i]), "first-slot key");
	}
	ASSERT_EQ(u64map_count(m), 2, "count");
	/* and from the middle of a chain */
	for (int i = 0; i < 4; i++)
		u64map_put(m, last[i], VAL(last[i]));
	ASSERT_TRUE(u64map_del(m, last[1]) == VAL(last[1]), "del middle");
	ASSERT_TRUE(u64map_del(m, first[0]) == VAL(first[0]), "del across wrap");
	ASSERT_TRUE(u64map_get(m, last[0]) == VAL(last[0]), "0 found");
	ASSERT_TRUE(u64map_get(m, last[2]) == VAL(last[2]), "2 found");
	ASSERT_TRUE(u64map_get(m, last[3]) == VAL(last[3]), "3 found");
	ASSERT_TRUE(u64map_get(m, first[1]) == VAL(first[1]), "first[1] found");
	ASSERT_EQ(u64map_count(m), 4, "count after");
	u64map_free(m);
}

struct visit {
	uint64_t keys[600];
	void *vals[600];
	int n;
};

static void visit_fn(uint64_t key, void *val, void *ctx)
{
	struct visit *v = ctx;

	if (v->n < 600) {
		v->keys[v->n] = key;
		v->vals[v->n] = val;
	}
	v->n++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_each(void)
{
	struct u64map *m = u64map_new(512);
	static struct visit v;
	int badval = 0;

	if (!ASSERT_OK_PTR(m, "new"))
		return;
	v.n = 0;
	u64map_each(m, visit_fn, &v);
	ASSERT_EQ(v.n, 0, "empty map: no visit");

	for (uint64_t k = 1; k <= 500; k++)
		u64map_put(m, k * 4096, VAL(k));
	for (uint64_t k = 1; k <= 500; k += 3)
		u64map_del(m, k * 4096);
	v.n = 0;
	u64map_each(m, visit_fn, &v);
	ASSERT_EQ(v.n, u64map_count(m), "visits == count");
	ASSERT_EQ(v.n, 333, "333 left");
	for (int i = 0; i < v.n && i < 600; i++)
		badval += v.vals[i] != VAL(v.keys[i] / 4096);
	ASSERT_EQ(badval, 0, "values match keys");
	qsort(v.keys, v.n, sizeof(v.keys[0]), cmp_u64);
	for (int i = 0, k = 1; i < v.n; k++) {
		if ((k - 1) % 3 == 0)
			continue;
		if (!ASSERT_EQ(v.keys[i], (uint64_t)k * 4096, "each key once, none deleted"))
			break;
		i++;
	}
	u64map_free(m);
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_basic);
	RUN_TEST(test_swap);
	RUN_TEST(test_key_zero);
	RUN_TEST(test_capacity);
	RUN_TEST(test_random);
	RUN_TEST(test_wrap_delete);
	RUN_TEST(test_each);
	return unit_summary();
}
