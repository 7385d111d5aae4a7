// SPDX-License-Identifier: GPL-2.0
/*
 * test_pool.c - the object pools: objects come zeroed, distinct and
 * aligned, put-back ones are reused last in first out, across many chunks,
 * and a pool can be used again after pool_destroy.
 */
#include <stdint.h>
#include <stdlib.h>

#include "pool.h"
#include "unit.h"

#define SIZE 336 /* a struct conn's size: not a multiple of 16 */
#define MANY 20000 /* several chunks, one of them 2 MiB */

static bool all_zero(const unsigned char *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (o[i])
			return false;
	return true;
}

static void test_get_put(void)
{
	struct pool p;
	unsigned char *a, *b, *c;

	pool_init(&p, SIZE - 4);
	a = pool_get(&p);
	b = pool_get(&p);
	if (!ASSERT_OK_PTR(a, "a") || !ASSERT_OK_PTR(b, "b"))
		goto out;
	ASSERT_EQ(p.size, SIZE, "rounded to 16");
	ASSERT_EQ((uintptr_t)a % 16, 0, "aligned");
	ASSERT_GE((size_t)(b > a ? b - a : a - b), (size_t)SIZE, "apart");
	ASSERT_TRUE(all_zero(a, SIZE), "fresh is zeroed");
	memset(a, 0xab, SIZE);
	memset(b, 0xcd, SIZE);
	pool_put(&p, a);
	pool_put(&p, b);
	pool_put(&p, NULL);
	c = pool_get(&p);
	ASSERT_TRUE(c == b, "last put, first out");
	ASSERT_TRUE(all_zero(c, SIZE), "reused is zeroed");
	c = pool_get(&p);
	ASSERT_TRUE(c == a, "then the one before");
	ASSERT_TRUE(all_zero(c, SIZE), "that one zeroed too");
out:
	pool_destroy(&p);
}

static void test_many(void)
{
	void **objs = calloc(MANY, sizeof(*objs));
	struct pool p;
	int i;

	pool_init(&p, SIZE);
	if (!objs) {
		ASSERT_OK_PTR(objs, "calloc");
		return;
	}
	for (i = 0; i < MANY; i++) {
		objs[i] = pool_get(&p);
		if (!ASSERT_OK_PTR(objs[i], "get"))
			goto out;
		memset(objs[i], 0x5a, SIZE);
	}
	for (i = 0; i < MANY; i++)
		pool_put(&p, objs[i]);
	for (i = MANY - 1; i >= 0; i--) {
		void *o = pool_get(&p);

		if (!ASSERT_TRUE(o == objs[i], "reused in reverse") ||
		    !ASSERT_TRUE(all_zero(o, SIZE), "zeroed"))
			break;
	}
	ASSERT_NULL(p.free, "none left to reuse");
	ASSERT_OK_PTR(pool_get(&p), "a fresh one after");
out:
	pool_destroy(&p);
	ASSERT_NULL(p.free, "destroyed: nothing free");
	ASSERT_OK_PTR(pool_get(&p), "usable again");
	pool_destroy(&p);
	free(objs);
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_get_put);
	RUN_TEST(test_many);
	return unit_summary();
}
