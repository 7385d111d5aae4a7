// SPDX-License-Identifier: GPL-2.0
/*
 * test_opts.c - the command-line value parsers fed good and bad input, and
 * opts_parse on good command lines (a bad one exits: the integration tests
 * cover those).
 */
#include <limits.h>
#include <sys/socket.h>

#include "opts.h"
#include "unit.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* parse_ports must fail on s, with a reason. */
static void ports_bad(const char *s)
{
	uint16_t ports[MAX_PORTS];
	char err[128] = "";
	int n = -1;

	if (ASSERT_ERR(parse_ports(s, ports, MAX_PORTS, &n, err, sizeof(err)), s))
		ASSERT_TRUE(err[0] != '\0', "reason given");
}

static void test_parse_ports(void)
{
	uint16_t ports[MAX_PORTS];
	char err[128];
	int n;

	if (SUBTEST("single")) {
		ASSERT_OK(parse_ports("80", ports, MAX_PORTS, &n, err, sizeof(err)), "80");
		ASSERT_EQ(n, 1, "n");
		ASSERT_EQ(ports[0], 80, "port");
		ASSERT_OK(parse_ports("65535", ports, MAX_PORTS, &n, err, sizeof(err)), "65535");
		ASSERT_EQ(ports[0], 65535, "max port");
		ASSERT_OK(parse_ports("1", ports, MAX_PORTS, &n, err, sizeof(err)), "1");
		ASSERT_EQ(ports[0], 1, "min port");
	}
	if (SUBTEST("list")) {
		ASSERT_OK(parse_ports("80,443", ports, MAX_PORTS, &n, err, sizeof(err)), "80,443");
		ASSERT_EQ(n, 2, "n");
		ASSERT_EQ(ports[0], 80, "first");
		ASSERT_EQ(ports[1], 443, "second");
	}
	if (SUBTEST("range")) {
		ASSERT_OK(parse_ports("8000-8003", ports, MAX_PORTS, &n, err, sizeof(err)),
			  "range");
		if (ASSERT_EQ(n, 4, "n"))
			for (int i = 0; i < 4; i++)
				ASSERT_EQ(ports[i], 8000 + i, "expanded");
		ASSERT_OK(parse_ports("80-80", ports, MAX_PORTS, &n, err, sizeof(err)), "80-80");
		ASSERT_EQ(n, 1, "one-port range");
		ASSERT_OK(parse_ports("22,8000-8001,443", ports, MAX_PORTS, &n, err, sizeof(err)),
			  "mixed");
		if (ASSERT_EQ(n, 4, "mixed n")) {
			ASSERT_EQ(ports[0], 22, "mixed 0");
			ASSERT_EQ(ports[1], 8000, "mixed 1");
			ASSERT_EQ(ports[2], 8001, "mixed 2");
			ASSERT_EQ(ports[3], 443, "mixed 3");
		}
		ASSERT_OK(parse_ports("65534-65535", ports, MAX_PORTS, &n, err, sizeof(err)),
			  "range at the top");
		ASSERT_EQ(n, 2, "top n");
	}
	if (SUBTEST("bound")) {
		ASSERT_OK(parse_ports("1-16", ports, MAX_PORTS, &n, err, sizeof(err)), "16");
		ASSERT_EQ(n, MAX_PORTS, "n");
		ports_bad("1-100");
		ports_bad("1-17");
		ports_bad("1-16,17");
		ASSERT_ERR(parse_ports("80,443,8080", ports, 2, &n, err, sizeof(err)), "max 2");
	}
	if (SUBTEST("bad")) {
		static const char *const bad[] = {
			"0",
			"65536",
			"80,",
			",80",
			"abc",
			"80-79",
			" 80",
			"+80",
			"-1",
			"",
			"80 ",
			"80,,443",
			"80-",
			"-80",
			"1-0",
			"0-5",
			"80;443",
			"0x50",
			"80-abc",
			"8000-8003-8005",
			"99999999999999999999",
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
			ports_bad(bad[i]);
		ASSERT_ERR(parse_ports(NULL, ports, MAX_PORTS, &n, err, sizeof(err)), "NULL");
		ASSERT_EQ(n, 0, "n zeroed");
	}
}

static void test_parse_seconds(void)
{
	static const char *const bad[] = {
		"0",   "-1", "abc",	 "1e400",  "nan", "inf", "-inf",
		"10s", "",   "31536001", "1e-400", "1 ",  "0.0",
	};
	char err[128];
	double d;

	ASSERT_OK(parse_seconds("1", &d, err, sizeof(err)), "1");
	ASSERT_NEAR(d, 1.0, 1e-12, "1 value");
	ASSERT_OK(parse_seconds("0.5", &d, err, sizeof(err)), "0.5");
	ASSERT_NEAR(d, 0.5, 1e-12, "0.5 value");
	ASSERT_OK(parse_seconds("60", &d, err, sizeof(err)), "60");
	ASSERT_NEAR(d, 60.0, 1e-12, "60 value");
	ASSERT_OK(parse_seconds("31536000", &d, err, sizeof(err)), "a year");
	ASSERT_NEAR(d, 31536000.0, 1e-6, "a year value");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		d = 42;
		err[0] = '\0';
		ASSERT_ERR(parse_seconds(bad[i], &d, err, sizeof(err)), bad[i]);
		ASSERT_NEAR(d, 42, 0, "untouched on error");
		ASSERT_TRUE(err[0] != '\0', "reason given");
	}
	ASSERT_ERR(parse_seconds(NULL, &d, err, sizeof(err)), "NULL");
}

static void test_parse_uint(void)
{
	unsigned long long v;
	char err[128];

	ASSERT_OK(parse_uint("0", 0, 10, &v, err, sizeof(err)), "0");
	ASSERT_EQ(v, 0, "0 value");
	ASSERT_OK(parse_uint("181", 1, 4194304, &v, err, sizeof(err)), "181");
	ASSERT_EQ(v, 181, "181 value");
	ASSERT_OK(parse_uint("16", 16, 16, &v, err, sizeof(err)), "min == max");
	ASSERT_OK(parse_uint("18446744073709551615", 0, ULLONG_MAX, &v, err, sizeof(err)), "max");
	ASSERT_TRUE(v == ULLONG_MAX, "max value");

	v = 7;
	ASSERT_ERR(parse_uint("15", 16, 100, &v, err, sizeof(err)), "below min");
	ASSERT_ERR(parse_uint("101", 16, 100, &v, err, sizeof(err)), "above max");
	ASSERT_ERR(parse_uint("18446744073709551616", 0, ULLONG_MAX, &v, err, sizeof(err)),
		   "overflow");
	ASSERT_ERR(parse_uint("", 0, 10, &v, err, sizeof(err)), "empty");
	ASSERT_ERR(parse_uint(NULL, 0, 10, &v, err, sizeof(err)), "NULL");
	ASSERT_ERR(parse_uint("-1", 0, ULLONG_MAX, &v, err, sizeof(err)), "-1");
	ASSERT_ERR(parse_uint("+1", 0, 10, &v, err, sizeof(err)), "+1");
	ASSERT_ERR(parse_uint(" 1", 0, 10, &v, err, sizeof(err)), "leading space");
	ASSERT_ERR(parse_uint("1 ", 0, 10, &v, err, sizeof(err)), "trailing space");
	ASSERT_ERR(parse_uint("1x", 0, 10, &v, err, sizeof(err)), "trailing junk");
	ASSERT_ERR(parse_uint("0x1", 0, 10, &v, err, sizeof(err)), "hex");
	ASSERT_ERR(parse_uint("1.0", 0, 10, &v, err, sizeof(err)), "decimal");
	ASSERT_EQ(v, 7, "untouched on error");
	/*
	 * BUG (user/opts.c parse_uint): leading whitespace is meant to be
	 * refused (" 1" is), but only ' ' is checked and strtoull skips any
	 * isspace(): "\t1" and "\n1" are accepted as 1, and "\t-1" with max
	 * ULLONG_MAX as 18446744073709551615 (so "-p $'\t-1'" ... is caught
	 * only by the range). Same for parse_ports("\t80").
	 */
	ASSERT_ERR(parse_uint("\t1", 0, 10, &v, err, sizeof(err)), "leading tab");
	ASSERT_ERR(parse_uint("\n1", 0, 10, &v, err, sizeof(err)), "leading newline");
	ASSERT_ERR(parse_uint("\t-1", 0, ULLONG_MAX, &v, err, sizeof(err)), "tab minus");
	ports_bad("\t80");
}

static void test_opts_parse(void)
{
	struct options o;

	if (SUBTEST("defaults")) {
		char *argv[] = { "tcpphase", NULL };

		opts_parse(1, argv, &o);
		ASSERT_FALSE(o.events, "events");
		ASSERT_FALSE(o.csv, "csv");
		ASSERT_FALSE(o.wide, "wide");
		ASSERT_FALSE(o.verbose, "verbose");
		ASSERT_EQ(o.pid, 0, "pid");
		ASSERT_EQ(o.family, 0, "family");
		ASSERT_EQ(o.n_lports, 0, "n_lports");
		ASSERT_EQ(o.n_rports, 0, "n_rports");
		ASSERT_NEAR(o.duration_s, 0, 0, "duration");
		ASSERT_EQ(o.max_conns, 262144, "max_conns");
		ASSERT_FALSE(o.accept, "accept() not traced by default");
		ASSERT_FALSE(o.no_aggregate, "aggregating by default");
	}
	if (SUBTEST("accept and aggregation")) {
		char *argv[] = { "tcpphase", "--accept", "--no-aggregate", NULL };
		char *argv2[] = { "tcpphase", "--accept", "--no-accept", NULL };

		opts_parse(ARRAY_SIZE(argv) - 1, argv, &o);
		ASSERT_TRUE(o.accept, "accept");
		ASSERT_TRUE(o.no_aggregate, "no_aggregate");
		opts_parse(ARRAY_SIZE(argv2) - 1, argv2, &o);
		ASSERT_FALSE(o.accept, "the last one wins");
		ASSERT_FALSE(o.no_aggregate, "no_aggregate cleared");
	}
	if (SUBTEST("short")) {
		char *argv[] = { "tcpphase", "-e", "--csv", "-L", "80,443", "-4", "-d", "2", NULL };

		opts_parse(ARRAY_SIZE(argv) - 1, argv, &o);
		ASSERT_TRUE(o.events, "events");
		ASSERT_TRUE(o.csv, "csv");
		ASSERT_FALSE(o.wide, "wide");
		ASSERT_EQ(o.family, AF_INET, "family");
		if (ASSERT_EQ(o.n_lports, 2, "n_lports")) {
			ASSERT_EQ(o.lports[0], 80, "lport 0");
			ASSERT_EQ(o.lports[1], 443, "lport 1");
		}
		ASSERT_EQ(o.n_rports, 0, "n_rports");
		ASSERT_NEAR(o.duration_s, 2.0, 1e-12, "duration");
		ASSERT_EQ(o.pid, 0, "pid");
		ASSERT_EQ(o.max_conns, 262144, "max_conns");
	}
	if (SUBTEST("more")) {
		char *argv[] = { "tcpphase",	"-w", "-p", "181", "-6",   "-D", "5432",
				 "--max-conns", "16", "-v", "-d",  "0.25", NULL };

		opts_parse(ARRAY_SIZE(argv) - 1, argv, &o);
		ASSERT_FALSE(o.events, "events");
		ASSERT_FALSE(o.csv, "csv");
		ASSERT_TRUE(o.wide, "wide");
		ASSERT_TRUE(o.verbose, "verbose");
		ASSERT_EQ(o.pid, 181, "pid");
		ASSERT_EQ(o.family, AF_INET6, "family");
		ASSERT_EQ(o.n_lports, 0, "n_lports");
		if (ASSERT_EQ(o.n_rports, 1, "n_rports"))
			ASSERT_EQ(o.rports[0], 5432, "rport");
		ASSERT_EQ(o.max_conns, 16, "max_conns");
		ASSERT_NEAR(o.duration_s, 0.25, 1e-12, "duration");
	}
	if (SUBTEST("long")) {
		char *argv[] = {
			"tcpphase", "--events", "--wide",   "--lport=8000-8002", "--rport",
			"80",	    "--ipv4",	"--pid=42", "--duration=60",	 "--max-conns=1000",
			NULL
		};

		opts_parse(ARRAY_SIZE(argv) - 1, argv, &o);
		ASSERT_TRUE(o.events, "events");
		ASSERT_TRUE(o.wide, "wide");
		ASSERT_FALSE(o.csv, "csv");
		if (ASSERT_EQ(o.n_lports, 3, "n_lports"))
			ASSERT_EQ(o.lports[2], 8002, "lport 2");
		if (ASSERT_EQ(o.n_rports, 1, "n_rports"))
			ASSERT_EQ(o.rports[0], 80, "rport");
		ASSERT_EQ(o.family, AF_INET, "family");
		ASSERT_EQ(o.pid, 42, "pid");
		ASSERT_NEAR(o.duration_s, 60, 1e-12, "duration");
		ASSERT_EQ(o.max_conns, 1000, "max_conns");
	}
	if (SUBTEST("reparse resets")) {
		char *argv[] = { "tcpphase", "--csv", NULL };

		opts_parse(ARRAY_SIZE(argv) - 1, argv, &o);
		ASSERT_TRUE(o.csv, "csv");
		ASSERT_FALSE(o.events, "events from before cleared");
		ASSERT_EQ(o.n_lports, 0, "lports from before cleared");
		ASSERT_EQ(o.family, 0, "family from before cleared");
	}
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_parse_ports);
	RUN_TEST(test_parse_seconds);
	RUN_TEST(test_parse_uint);
	RUN_TEST(test_opts_parse);
	return unit_summary();
}
