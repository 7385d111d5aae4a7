/* SPDX-License-Identifier: GPL-2.0 */
/*
 * opts.h - tcpphase's command line: what the user asked for, checked.
 * The value parsers are separate so that unit tests can feed them junk.
 */
#ifndef __OPTS_H
#define __OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/types.h>

#include "tcpphase.h"

struct options {
	bool events; /* --events: the state-change stream */
	bool csv;
	bool json; /* --json: one JSON object per line */
	bool wide;
	bool verbose;
	bool accept; /* --accept: trace accept() through the syscall tracepoints */
	bool no_aggregate; /* --no-aggregate: every transition crosses the ring buffer */
	pid_t pid;
	int family; /* 0, AF_INET or AF_INET6 */
	uint16_t lports[MAX_PORTS];
	int n_lports;
	uint16_t rports[MAX_PORTS];
	int n_rports;
	const char *cgroups[MAX_CGROUPS]; /* --cgroup PATH, as given */
	int n_cgroups;
	/* their ids and depths, resolved by the loader before the BPF side loads */
	uint64_t cgroup_ids[MAX_CGROUPS];
	uint32_t cgroup_levels[MAX_CGROUPS];
	double duration_s; /* 0: until interrupted */
	uint32_t max_conns;
	bool summary; /* --summary: phase statistics instead of records */
	bool listeners; /* --listeners: the listener view instead of records */
	bool open; /* --open: also a row when each handshake ends */
	double interval_s; /* -i: print the summary this often (0: on exit only) */
	int by; /* --by: enum summary_by */
	int top; /* --top: groups shown with --by */
	const char *metrics_addr; /* --metrics ADDR:PORT, NULL if not serving */
	bool metrics_by_workload; /* --metrics-by workload */
	int metrics_top; /* --metrics-top: workloads named, 0 if not given (10) */
	double stuck_s; /* --stuck: list sockets stuck this long (0: off) */
	const char *record_path; /* -W FILE */
	const char *replay_path; /* -r FILE */
};

/*
 * Parsers: 0 on success, else -1 with a one-line reason in err.
 * parse_ports takes "80", "80,443" or "8000-8010" (ranges expand), at most max.
 */
int parse_ports(const char *s, uint16_t *ports, int max, int *n, char *err, size_t errlen);
int parse_seconds(const char *s, double *out, char *err, size_t errlen);
int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out, char *err, size_t errlen);

/* True if a socket of this family and ports passes the -4/-6/-L/-D filters. */
bool tuple_filtered(const struct options *o, int family, uint16_t lport, uint16_t rport);

/*
 * Parse argv into o. Exits on --help (0), --version (0) and usage errors
 * (status 2, one line on stderr), as command lines do.
 */
void opts_parse(int argc, char **argv, struct options *o);

#endif /* __OPTS_H */
