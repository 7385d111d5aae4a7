/* SPDX-License-Identifier: GPL-2.0 */
/*
 * unit.h - a tiny test_progs-like harness for tcpphase's pure modules.
 *
 * A test is a `static void test_x(void)` run by RUN_TEST(test_x) from main;
 * inside it, `if (SUBTEST("name")) { ... }` opens a named subtest that lasts
 * until the next SUBTEST or the end of the test. ASSERT_*() return bool and
 * log (file:line, the values) only on failure, so a test reads
 * `if (!ASSERT_OK_PTR(t, "ct_new")) return;`. ASSERT_EQ(actual, expected).
 *
 * Output: one line per test and per subtest, `ok <name>` or `FAIL <name>`
 * (subtests as test/subtest), failure details indented before it, and as
 * the last line `SUMMARY: P passed, F failed` counting those lines.
 * main ends with `return unit_summary();`: 1 if anything failed, else 0.
 * An argument runs only the tests whose name contains it.
 */
#ifndef __UNIT_H
#define __UNIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct unit_state {
	const char *test; /* running test, without "test_" */
	const char *sub; /* running subtest, NULL outside one */
	bool test_ok;
	bool sub_ok;
	int passed;
	int failed;
	const char *filter;
};

static struct unit_state unit __attribute__((unused));

static inline void unit_line(const char *test, const char *sub, bool ok)
{
	if (ok)
		unit.passed++;
	else
		unit.failed++;
	printf("%s %s%s%s\n", ok ? "ok" : "FAIL", test, sub ? "/" : "", sub ? sub : "");
	fflush(stdout);
}

static inline __attribute__((format(printf, 3, 4))) void unit_fail(const char *file, int line,
								   const char *fmt, ...)
{
	va_list ap;

	unit.test_ok = false;
	unit.sub_ok = false;
	printf("  %s:%d: %s%s%s: ", file, line, unit.test, unit.sub ? "/" : "",
	       unit.sub ? unit.sub : "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static inline void unit_end_subtest(void)
{
	if (!unit.sub)
		return;
	unit_line(unit.test, unit.sub, unit.sub_ok);
	unit.sub = NULL;
}

static inline bool unit_start_subtest(const char *name)
{
	unit_end_subtest();
	unit.sub = name;
	unit.sub_ok = true;
	return true;
}

static inline void unit_run(void (*fn)(void), const char *name)
{
	if (!strncmp(name, "test_", 5))
		name += 5;
	if (unit.filter && !strstr(name, unit.filter))
		return;
	unit.test = name;
	unit.test_ok = true;
	unit.sub = NULL;
	fn();
	unit_end_subtest();
	unit_line(name, NULL, unit.test_ok);
}

static inline void unit_init(int argc, char **argv)
{
	unit.filter = argc > 1 ? argv[1] : NULL;
}

static inline int unit_summary(void)
{
	printf("SUMMARY: %d passed, %d failed\n", unit.passed, unit.failed);
	fflush(stdout);
	return unit.failed ? 1 : 0;
}

#define RUN_TEST(fn) unit_run(fn, #fn)
#define SUBTEST(name) unit_start_subtest(name)

#define ASSERT_TRUE(cond, name)                                                            \
	({                                                                                 \
		bool ___ok = !!(cond);                                                     \
		if (!___ok)                                                                \
			unit_fail(__FILE__, __LINE__, "%s: '%s' is false", (name), #cond); \
		___ok;                                                                     \
	})

#define ASSERT_FALSE(cond, name)                                                          \
	({                                                                                \
		bool ___ok = !(cond);                                                     \
		if (!___ok)                                                               \
			unit_fail(__FILE__, __LINE__, "%s: '%s' is true", (name), #cond); \
		___ok;                                                                    \
	})

/* Integers (and pointers), compared and shown as long long. */
#define ASSERT_CMP(a, op, b, name)                                                                \
	({                                                                                        \
		long long ___a = (long long)(a), ___b = (long long)(b);                           \
		bool ___ok = ___a op ___b;                                                        \
		if (!___ok)                                                                       \
			unit_fail(__FILE__, __LINE__, "%s: %s = %lld, want %s %lld (%s)", (name), \
				  #a, ___a, #op, ___b, #b);                                       \
		___ok;                                                                            \
	})

#define ASSERT_EQ(a, b, name) ASSERT_CMP(a, ==, b, name)
#define ASSERT_NEQ(a, b, name) ASSERT_CMP(a, !=, b, name)
#define ASSERT_LT(a, b, name) ASSERT_CMP(a, <, b, name)
#define ASSERT_LE(a, b, name) ASSERT_CMP(a, <=, b, name)
#define ASSERT_GT(a, b, name) ASSERT_CMP(a, >, b, name)
#define ASSERT_GE(a, b, name) ASSERT_CMP(a, >=, b, name)
#define ASSERT_OK(a, name) ASSERT_CMP(a, ==, 0, name)
/* An error return: negative (the parsers and maps return -1). */
#define ASSERT_ERR(a, name) ASSERT_CMP(a, <, 0, name)

#define ASSERT_OK_PTR(p, name)                                                       \
	({                                                                           \
		bool ___ok = (p) != NULL;                                            \
		if (!___ok)                                                          \
			unit_fail(__FILE__, __LINE__, "%s: %s is NULL", (name), #p); \
		___ok;                                                               \
	})

#define ASSERT_NULL(p, name)                                                                       \
	({                                                                                         \
		const void *___p = (p);                                                            \
		bool ___ok = ___p == NULL;                                                         \
		if (!___ok)                                                                        \
			unit_fail(__FILE__, __LINE__, "%s: %s = %p, want NULL", (name), #p, ___p); \
		___ok;                                                                             \
	})

#define ASSERT_STREQ(a, b, name)                                                                  \
	({                                                                                        \
		const char *___a = (a), *___b = (b);                                              \
		bool ___ok = ___a && ___b ? !strcmp(___a, ___b) : ___a == ___b;                   \
		if (!___ok)                                                                       \
			unit_fail(__FILE__, __LINE__, "%s: %s = \"%s\", want \"%s\"", (name), #a, \
				  ___a ? ___a : "(null)", ___b ? ___b : "(null)");                \
		___ok;                                                                            \
	})

#define ASSERT_NEAR(a, b, eps, name)                                                            \
	({                                                                                      \
		double ___a = (a), ___b = (b), ___d = ___a - ___b;                              \
		bool ___ok = (___d < 0 ? -___d : ___d) <= (eps);                                \
		if (!___ok)                                                                     \
			unit_fail(__FILE__, __LINE__, "%s: %s = %.9g, want %.9g +- %g", (name), \
				  #a, ___a, ___b, (double)(eps));                               \
		___ok;                                                                          \
	})

#endif /* __UNIT_H */
