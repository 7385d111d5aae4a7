// SPDX-License-Identifier: GPL-2.0
/*
 * opts.c - the command line, through glibc's argp. Every value is checked
 * (ranges, trailing junk, overflow); a bad one ends the program with a
 * one-line message and status 2.
 */
#include <argp.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "format.h"
#include "metrics.h"
#include "opts.h"
#include "summary.h"

const char *argp_program_version = "tcpphase " TCPPHASE_VERSION;
const char *argp_program_bug_address = NULL;

static const char doc[] =
	"Trace every phase of every TCP connection: handshake, half-close, TIME_WAIT.\n"
	"\n"
	"USAGE: tcpphase [-e] [--csv|--json] [-w] [-p PID] [-L PORTS] [-D PORTS] [-4|-6] [-d SECS]\n"
	"\n"
	"EXAMPLES:\n"
	"    tcpphase                  # one line per finished connection, phases timed\n"
	"    tcpphase --csv > c.csv    # the same as CSV, one row per endpoint\n"
	"    tcpphase -e               # every state change, as it happens\n"
	"    tcpphase -e --csv         # state changes as CSV\n"
	"    tcpphase --json | jq .    # records as JSON lines (keys: the CSV columns)\n"
	"    tcpphase -L 80,443 -d 60  # local ports 80 and 443, for one minute\n"
	"    tcpphase -D 5432 -w       # connections to port 5432, all phases\n"
	"    tcpphase -p 181 -6        # IPv6 sockets of PID 181 only\n"
	"    tcpphase -i 10 --by remote # latency per remote host every 10 s\n"
	"    tcpphase --metrics :9464  # serve Prometheus metrics while tracing\n"
	"    tcpphase -W trace.tpp     # record; later: tcpphase -r trace.tpp --csv\n";

enum {
	OPT_CSV = 256,
	OPT_JSON,
	OPT_MAX_CONNS,
	OPT_SUMMARY,
	OPT_BY,
	OPT_TOP,
	OPT_METRICS,
	OPT_STUCK,
	OPT_ACCEPT,
	OPT_NO_ACCEPT,
	OPT_NO_AGGREGATE,
	OPT_OPEN,
	OPT_CGROUP,
	OPT_LISTENERS,
	OPT_METRICS_BY,
	OPT_METRICS_TOP,
};

static const struct argp_option options[] = {
	{ "events", 'e', NULL, 0, "Print every state change (the state-change stream)", 0 },
	{ "csv", OPT_CSV, NULL, 0, "CSV output (RFC 4180, with a header row)", 0 },
	{ "json", OPT_JSON, NULL, 0,
	  "JSON lines: one object per record, event, --stuck line or --summary", 0 },
	{ "wide", 'w', NULL, 0, "Wide table: every phase and both addresses", 0 },
	{ "open", OPT_OPEN, NULL, 0,
	  "Also print each endpoint when its handshake ends (row \"open\"), before its own row",
	  0 },
	{ "pid", 'p', "PID", 0, "Only sockets of this process", 0 },
	{ "lport", 'L', "PORTS", 0, "Only these local ports (80,443 or 8000-8010)", 0 },
	{ "rport", 'D', "PORTS", 0, "Only these remote ports", 0 },
	{ "ipv4", '4', NULL, 0, "IPv4 only", 0 },
	{ "ipv6", '6', NULL, 0, "IPv6 only", 0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0,
	  "Only sockets of this cgroup (v2) or below it (repeatable, at most 8)", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after this long", 0 },
	{ "max-conns", OPT_MAX_CONNS, "N", 0, "Endpoints tracked at once (default 262144)", 0 },
	{ "summary", OPT_SUMMARY, NULL, 0, "Per-phase latency summary instead of records", 0 },
	{ "interval", 'i', "SECONDS", 0,
	  "Print the summary (or --listeners) this often (implies --summary)", 0 },
	{ "by", OPT_BY, "KEY", 0, "Summary per remote|lport|rport|comm|netns|cgroup|workload", 0 },
	{ "top", OPT_TOP, "N", 0, "Groups shown with --by (default 10)", 0 },
	{ "listeners", OPT_LISTENERS, NULL, 0,
	  "Per listening port: SYNs, drops on a full queue, queue lengths, accepts", 0 },
	{ "metrics", OPT_METRICS, "ADDR:PORT", 0, "Serve Prometheus metrics at /metrics", 0 },
	{ "metrics-by", OPT_METRICS_BY, "workload", 0,
	  "Label the metrics with each endpoint's workload (its cgroup's service or container)",
	  0 },
	{ "metrics-top", OPT_METRICS_TOP, "N", 0,
	  "Workloads --metrics-by names, the busiest (default 10, at most 50); others: \"other\"",
	  0 },
	{ "stuck", OPT_STUCK, "SECONDS", 0, "List sockets in CLOSE_WAIT/FIN_WAIT2 this long", 0 },
	{ "write", 'W', "FILE", 0, "Record the raw event stream to FILE", 0 },
	{ "read", 'r', "FILE", 0, "Replay a recorded FILE (no root, no BPF)", 0 },
	{ "accept", OPT_ACCEPT, NULL, 0,
	  "Also trace accept(): accept_wait_us and the accepting task. Off by default: "
	  "an enabled syscall tracepoint slows every system call on the host",
	  0 },
	{ "no-accept", OPT_NO_ACCEPT, NULL, 0, "Do not trace accept() (the default)", 0 },
	{ "no-aggregate", OPT_NO_AGGREGATE, NULL, 0,
	  "Send every state change to user space as it happens instead of one record "
	  "per socket gathered in the kernel (costlier; implied by -e and --stuck)",
	  0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 0 },
	{ "help", 'h', NULL, 0, "Show this help", 0 },
	{ "version", 'V', NULL, 0, "Print the version", 0 },
	{},
};

int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out, char *err, size_t errlen)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s)) {
		snprintf(err, errlen, "'%s' is not a number", s ? s : "");
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end) {
		snprintf(err, errlen, "'%s' is not a number", s);
		return -1;
	}
	if (v < min || v > max) {
		snprintf(err, errlen, "%s is out of range %llu-%llu", s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_port(const char *s, size_t len, uint16_t *port, char *err, size_t errlen)
{
	unsigned long long v;
	char buf[16];

	if (len == 0 || len >= sizeof(buf)) {
		snprintf(err, errlen, "bad port '%.*s'", (int)(len > 20 ? 20 : len), s);
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (parse_uint(buf, 1, 65535, &v, err, errlen)) {
		snprintf(err, errlen, "bad port '%s' (1-65535)", buf);
		return -1;
	}
	*port = v;
	return 0;
}

int parse_ports(const char *s, uint16_t *ports, int max, int *n, char *err, size_t errlen)
{
	const char *p = s;

	*n = 0;
	if (!s || !*s) {
		snprintf(err, errlen, "empty port list");
		return -1;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		const char *dash = memchr(p, '-', len);
		uint16_t lo, hi;

		if (dash) {
			if (parse_port(p, dash - p, &lo, err, errlen) ||
			    parse_port(dash + 1, len - (dash - p) - 1, &hi, err, errlen))
				return -1;
			if (hi < lo) {
				snprintf(err, errlen, "bad port range '%.*s'", (int)len, p);
				return -1;
			}
		} else {
			if (parse_port(p, len, &lo, err, errlen))
				return -1;
			hi = lo;
		}
		for (unsigned int v = lo; v <= hi; v++) {
			if (*n >= max) {
				snprintf(err, errlen, "too many ports (at most %d)", max);
				return -1;
			}
			ports[(*n)++] = v;
		}
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

int parse_seconds(const char *s, double *out, char *err, size_t errlen)
{
	char *end;
	double v;

	errno = 0;
	v = s && *s ? strtod(s, &end) : NAN;
	if (!s || !*s || errno || *end || !isfinite(v)) {
		snprintf(err, errlen, "'%s' is not a number of seconds", s ? s : "");
		return -1;
	}
	if (v <= 0 || v > 365 * 86400.0) {
		snprintf(err, errlen, "%s seconds is out of range (0-31536000]", s);
		return -1;
	}
	*out = v;
	return 0;
}

/* A bad value: one line, status 2 (argp's own reporting is off, see opts_parse). */
static void __attribute__((noreturn, format(printf, 1, 2))) usage_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror_line(fmt, ap);
	va_end(ap);
	exit(2);
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct options *o = state->input;
	unsigned long long v;
	char err[128];

	switch (key) {
	case 'e':
		o->events = true;
		break;
	case OPT_CSV:
		o->csv = true;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case 'w':
		o->wide = true;
		break;
	case OPT_OPEN:
		o->open = true;
		break;
	case 'v':
		o->verbose = true;
		break;
	case 'p':
		if (parse_uint(arg, 1, 4194304, &v, err, sizeof(err)))
			usage_fail("-p: %s", err);
		o->pid = v;
		break;
	case 'L':
		if (parse_ports(arg, o->lports, MAX_PORTS, &o->n_lports, err, sizeof(err)))
			usage_fail("-L: %s", err);
		break;
	case 'D':
		if (parse_ports(arg, o->rports, MAX_PORTS, &o->n_rports, err, sizeof(err)))
			usage_fail("-D: %s", err);
		break;
	case OPT_CGROUP:
		if (o->n_cgroups >= MAX_CGROUPS)
			usage_fail("--cgroup: at most %d", MAX_CGROUPS);
		if (!*arg)
			usage_fail("--cgroup: empty path");
		o->cgroups[o->n_cgroups++] = arg;
		break;
	case '4':
	case '6':
		if (o->family)
			usage_fail("-4 and -6 are exclusive");
		o->family = key == '4' ? AF_INET : AF_INET6;
		break;
	case 'd':
		if (parse_seconds(arg, &o->duration_s, err, sizeof(err)))
			usage_fail("-d: %s", err);
		break;
	case OPT_MAX_CONNS:
		if (parse_uint(arg, 16, 16777216, &v, err, sizeof(err)))
			usage_fail("--max-conns: %s", err);
		o->max_conns = v;
		break;
	case OPT_ACCEPT:
		o->accept = true;
		break;
	case OPT_NO_ACCEPT:
		o->accept = false;
		break;
	case OPT_NO_AGGREGATE:
		o->no_aggregate = true;
		break;
	case OPT_SUMMARY:
		o->summary = true;
		break;
	case OPT_LISTENERS:
		o->listeners = true;
		break;
	case 'i':
		if (parse_seconds(arg, &o->interval_s, err, sizeof(err)))
			usage_fail("-i: %s", err);
		break;
	case OPT_BY: {
		enum summary_by by;

		if (summary_by_parse(arg, &by))
			usage_fail("--by: '%s' is not remote, lport, rport, comm, netns, cgroup or "
				   "workload",
				   arg);
		o->by = by;
		o->summary = true;
		break;
	}
	case OPT_TOP:
		if (parse_uint(arg, 1, 100000, &v, err, sizeof(err)))
			usage_fail("--top: %s", err);
		o->top = v;
		break;
	case OPT_METRICS:
		if (!strchr(arg, ':'))
			usage_fail("--metrics: '%s' is not ADDR:PORT", arg);
		o->metrics_addr = arg;
		break;
	case OPT_METRICS_BY:
		if (strcmp(arg, "workload"))
			usage_fail("--metrics-by: '%s' is not workload", arg);
		o->metrics_by_workload = true;
		break;
	case OPT_METRICS_TOP:
		if (parse_uint(arg, 1, METRICS_TOP_MAX, &v, err, sizeof(err)))
			usage_fail("--metrics-top: %s", err);
		o->metrics_top = v;
		break;
	case OPT_STUCK:
		if (parse_seconds(arg, &o->stuck_s, err, sizeof(err)))
			usage_fail("--stuck: %s", err);
		break;
	case 'W':
		if (!*arg)
			usage_fail("-W: empty file name");
		o->record_path = arg;
		break;
	case 'r':
		if (!*arg)
			usage_fail("-r: empty file name");
		o->replay_path = arg;
		break;
	case ARGP_KEY_END:
		/* -i alone means the summary; with --listeners, that view */
		if (o->interval_s > 0 && !o->listeners)
			o->summary = true;
		if (o->listeners && (o->events || o->open || o->csv || o->stuck_s > 0))
			usage_fail(
				"--listeners prints its own table or JSON (not -e, --open, --csv "
				"or --stuck)");
		if (o->listeners && o->replay_path)
			usage_fail("--listeners reads the kernel's counters live (not with -r)");
		if (o->events && o->summary)
			usage_fail("--events and --summary are exclusive");
		if (o->csv && o->json)
			usage_fail("--csv and --json are exclusive");
		if (o->open && (o->events || o->summary))
			usage_fail("--open needs per-connection records (not -e or --summary)");
		if (o->record_path && o->replay_path)
			usage_fail("-W and -r are exclusive");
		if (o->metrics_by_workload && !o->metrics_addr)
			usage_fail("--metrics-by needs --metrics");
		if (o->metrics_top && !o->metrics_by_workload)
			usage_fail("--metrics-top needs --metrics-by workload");
		break;
	case 'h':
		argp_help(state->root_argp, stdout, ARGP_HELP_STD_HELP, "tcpphase");
		exit(0);
	case 'V':
		printf("%s\n", argp_program_version);
		exit(0);
	case ARGP_KEY_ARG:
		usage_fail("unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* True if arg names one of our options. */
static bool known_option(const char *arg)
{
	if (arg[1] == '-') {
		size_t len = strcspn(arg + 2, "=");

		for (const struct argp_option *op = options; op->key; op++)
			if (op->name && strlen(op->name) == len && !strncmp(op->name, arg + 2, len))
				return true;
		return false;
	}
	for (const struct argp_option *op = options; op->key; op++)
		if (op->key == arg[1])
			return true;
	return false;
}

/* argp's own error text takes two lines: name the bad argument in one. */
static void usage_error(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (argv[i][0] == '-' && argv[i][1] && !known_option(argv[i])) {
			fprintf(stderr, "tcpphase: unknown option '%s' (see tcpphase --help)\n",
				argv[i]);
			exit(2);
		}
	}
	fprintf(stderr, "tcpphase: bad usage: an option lacks its value (see tcpphase --help)\n");
	exit(2);
}

void opts_parse(int argc, char **argv, struct options *o)
{
	static const struct argp argp = {
		.options = options,
		.parser = parse_opt,
		.doc = doc,
	};

	memset(o, 0, sizeof(*o));
	o->max_conns = 262144;
	o->top = 10;
	argp_err_exit_status = 2;
	if (argp_parse(&argp, argc, argv, ARGP_NO_ERRS | ARGP_NO_HELP, NULL, o))
		usage_error(argc, argv);
}

static bool port_listed(uint16_t port, const uint16_t *ports, int n)
{
	for (int i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

bool tuple_filtered(const struct options *o, int family, uint16_t lport, uint16_t rport)
{
	if (o->family && family != o->family)
		return false;
	if (o->n_lports && !port_listed(lport, o->lports, o->n_lports))
		return false;
	return !o->n_rports || port_listed(rport, o->rports, o->n_rports);
}
