// SPDX-License-Identifier: GPL-2.0
/*
 * tcpphase - trace every phase of every TCP connection on this host:
 * handshake latency on both sides, the half-close states, TIME_WAIT.
 *
 * main, the edge: parse the options, set up the outputs as the pipeline's
 * sinks (sinks.h), run a source (live.c, or replay.c for -r), print what
 * went wrong (log.h) and say how it ended.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "cgroups.h"
#include "metrics.h"
#include "session.h"
#include "summary.h"
#include "tracer.h"

/*
 * stdout is written in batches, flushed once per poll (sink.h). The buffer
 * is ours: given none, glibc's setvbuf ignores the size and keeps a 4 KiB
 * one, a write(2) every ~16 rows.
 */
static char stdout_buf[1 << 20];

static volatile sig_atomic_t exiting;

static void sig_stop(int sig)
{
	exiting = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return vfprintf(stderr, fmt, args);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

/* What main owns; a source borrows it through struct session. */
struct edge {
	struct options opts;
	struct out out;
	struct pipeline pl;
	struct summary_sink summary;
	struct listeners_sink listeners;
	struct metrics *metrics;
	struct log log;
	struct session s;
};

/* The table and the sinks the options ask for, in the order they are fed. */
static int setup_outputs(struct edge *m)
{
	const struct options *o = &m->opts;
	struct pl_sink sink;
	char err[256];

	m->out.f = stdout;
	m->out.csv = o->csv;
	m->out.json = o->json;
	m->out.wide = o->wide;
	m->out.open = o->open;
	setvbuf(stdout, stdout_buf, _IOFBF, sizeof(stdout_buf));
	if (pl_init(&m->pl, o->max_conns, o->events))
		return log_err(&m->log, -1, "out of memory for %u connections", o->max_conns);
	/* the records go out unless a view (--summary, --listeners) replaces them */
	bool records = !o->events && !o->summary && !o->listeners;

	if (o->events)
		sink = events_pl_sink(&m->out);
	else if (records)
		sink = lifecycle_pl_sink(&m->out);
	if ((o->events || records) && pl_add_sink(&m->pl, &sink))
		return log_err(&m->log, -1, "too many outputs");
	if (o->summary) {
		m->summary.s = summary_new(o->by, o->top);
		m->summary.out = &m->out;
		m->summary.interval_s = o->interval_s;
		sink = summary_pl_sink(&m->summary);
		if (!m->summary.s)
			return log_err(&m->log, -1, "out of memory");
		summary_set_cgroups(m->summary.s, m->out.cg);
		if (pl_add_sink(&m->pl, &sink))
			return log_err(&m->log, -1, "too many outputs");
		m->s.summary = &m->summary;
	}
	if (o->metrics_addr) {
		m->metrics =
			metrics_start(o->metrics_addr, o->lports, o->n_lports, err, sizeof(err));
		if (!m->metrics)
			return log_err(&m->log, -1, "--metrics: %s", err);
		if (o->metrics_by_workload &&
		    metrics_by_workload(m->metrics, m->out.cg,
					o->metrics_top ? o->metrics_top : METRICS_TOP_DEFAULT, err,
					sizeof(err)))
			return log_err(&m->log, -1, "--metrics-by: %s", err);
		sink = metrics_pl_sink(m->metrics);
		if (pl_add_sink(&m->pl, &sink))
			return log_err(&m->log, -1, "too many outputs");
		m->s.metrics = m->metrics;
	}
	if (o->listeners) {
		m->listeners.out = &m->out;
		m->listeners.interval_s = o->interval_s;
		m->listeners.metrics = m->metrics;
		m->listeners.log = &m->log;
		m->listeners.ports = o->lports;
		m->listeners.n_ports = o->n_lports;
		sink = listeners_pl_sink(&m->listeners);
		if (pl_add_sink(&m->pl, &sink))
			return log_err(&m->log, -1, "too many outputs");
		m->s.listeners = &m->listeners;
	}
	if (o->events)
		events_sink.header(&m->out);
	else if (records)
		lifecycle_sink.header(&m->out);
	else if (!o->replay_path && !o->json)
		fprintf(m->out.f, "Tracing TCP connection phases... Hit Ctrl-C to end.\n");
	return 0;
}

/* Live, the outputs come once the programs are up (session.h). */
static int open_outputs(void *ctx)
{
	return setup_outputs(ctx);
}

/*
 * The cgroup table (ids to paths and workloads) and --cgroup's ids for the
 * BPF filter. A bad --cgroup ends the program with status 2; no cgroup2
 * mount is said once (live only: a replay may come from another host).
 */
static int setup_cgroups(struct edge *m)
{
	struct options *o = &m->opts;
	char err[512];

	m->out.cg = cg_new(NULL);
	if (!m->out.cg)
		return log_err(&m->log, 1, "out of memory");
	for (int i = 0; i < o->n_cgroups; i++)
		if (cg_lookup(m->out.cg, o->cgroups[i], &o->cgroup_ids[i], &o->cgroup_levels[i],
			      err, sizeof(err)))
			return log_err(&m->log, 2, "%s", err);
	if (!cg_root(m->out.cg)[0] && !o->replay_path)
		log_warn(&m->log, "no cgroup2 file system mounted: the cgroup and workload "
				  "columns stay empty");
	return 0;
}

int main(int argc, char **argv)
{
	static struct edge m;
	int status;

	opts_parse(argc, argv, &m.opts);
	m.out.wall_offset_ns = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
	m.s = (struct session){ .opts = &m.opts,
				.pl = &m.pl,
				.out = &m.out,
				.log = &m.log,
				.stop = &exiting,
				.open_outputs = open_outputs,
				.ctx = &m };
	libbpf_set_print(m.opts.verbose ? libbpf_print : libbpf_quiet);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, sig_stop);
	signal(SIGTERM, sig_stop);

	status = setup_cgroups(&m);
	log_print(&m.log);
	if (!status && m.opts.replay_path) {
		status = setup_outputs(&m) ? 1 : 0;
		if (!status) {
			rst_reasons_load(); /* the names of this host's kernel */
			status = replay_run(&m.s);
		}
	} else if (!status) {
		status = live_run(&m.s);
	}
	log_print(&m.log);
	metrics_stop(m.metrics);
	summary_free(m.summary.s);
	pl_free(&m.pl);
	lv_free(&m.listeners.lv);
	cg_free(m.out.cg);
	return status;
}
