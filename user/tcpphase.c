// SPDX-License-Identifier: GPL-2.0
/*
 * tcpphase - trace every phase of every TCP connection on this host:
 * handshake latency on both sides, the half-close states, TIME_WAIT.
 *
 * main and the poll loop: bring the programs up (bpfsetup.c), poll the
 * ring buffer on a timer (the programs submit without wakeups), feed the
 * connection table, flush the outputs once per batch, and report every
 * loss on exit (losses.c). With -r, the same table and outputs are fed
 * from a recording instead, with no BPF at all.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agg.h"
#include "format.h"
#include "gauges.h"
#include "sockdiag.h"
#include "tracer.h"
#include "tcpphase.skel.h"

static volatile sig_atomic_t exiting;

static void sig_stop(int sig)
{
	exiting = 1;
}

uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return vfprintf(stderr, fmt, args);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

void die_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror_line(fmt, ap);
	va_end(ap);
}

/* A record from the table goes to every output that wants it. */
static void on_record(void *ctx, const struct conn *c, enum rec_kind kind)
{
	struct tracer *t = ctx;

	if (!t->opts.summary && !t->opts.listeners)
		lifecycle_sink.record(&t->out, c, kind);
}

/* What became known of an endpoint goes to the aggregates at once. */
static void on_parts(void *ctx, const struct conn *c, unsigned int parts)
{
	struct tracer *t = ctx;

	if (t->opts.open && !t->opts.summary && (parts & CT_PART(CT_PART_RESULT)) &&
	    (c->result != RES_NONE || c->hs_kind != HS_NORMAL))
		lifecycle_sink.opened(&t->out, c);
	if (t->summary)
		summary_add_parts(t->summary, c, parts);
	if (t->metrics)
		metrics_add_parts(t->metrics, c, parts);
	if (t->opts.listeners && c->role == ROLE_PASSIVE && (parts & CT_PART(PH_ACCEPT_WAIT)))
		lv_add_accept_wait(&t->lview, c->netns, c->lport, c->ph[PH_ACCEPT_WAIT]);
}

/* Every reset, ours or not, counted by direction and reason. */
static void on_reset(void *ctx, const struct event *e)
{
	struct tracer *t = ctx;

	if (t->summary)
		summary_add_reset(t->summary, e);
	if (t->metrics)
		metrics_add_reset(t->metrics, e);
}

static void on_transition(void *ctx, const struct event *e, const struct conn *c,
			  int64_t elapsed_ns)
{
	struct tracer *t = ctx;

	events_sink.transition(&t->out, e, c, elapsed_ns);
}

void record_event(struct tracer *t, const struct event *e)
{
	struct event named = *e;
	int err;

	if (!t->recorder || t->rec_err)
		return;
	/* no kernel address reaches the file: the replay needs identity only */
	rec_hide_pointers(&named, t->rec_key);
	err = recorder_write(t->recorder, &named);
	if (err == -EINVAL)
		t->rec_refused++; /* an event the format cannot hold: counted */
	else if (err)
		t->rec_err = err;
}

/* One event into the recording and the table. */
void feed_event(struct tracer *t, const struct event *e)
{
	record_event(t, e);
	ct_event(t->table, e);
}

/*
 * An aggregated record goes in as the events it stands for. A per-CPU ring
 * also carries single events (TIME_WAIT ends): those go in as they are.
 */
void feed_agg(struct tracer *t, const struct agg_event *a)
{
	struct event ev[AGG_MAX_EVENTS];
	int n;

	if (a->head.type != EV_AGG) {
		feed_event(t, &a->head);
		return;
	}
	n = agg_expand(a, ev);

	if (!n)
		t->agg_refused++; /* cannot be right: counted as lost */
	for (int i = 0; i < n; i++)
		feed_event(t, &ev[i]);
}

/* reorder.h callbacks */
static void reordered_event(void *ctx, const struct event *e)
{
	feed_event(ctx, e);
}

static void reordered_agg(void *ctx, const struct agg_event *a)
{
	feed_agg(ctx, a);
}

/*
 * A ring-buffer record. Aggregating, it is held until it can be handed on
 * in time order with the per-CPU rings' records; else this is the only way.
 */
int handle_event(void *ctx, void *data, size_t len)
{
	struct tracer *t = ctx;
	const struct event *e = data;

	/* shorter: a per-CPU ring's wakeup call (ring_claim in the BPF side), no record */
	if (len < sizeof(struct event))
		return 0;
	if (t->reorder)
		reorder_event(t->reorder, e);
	else
		feed_event(t, e);
	return 0;
}

static void print_stuck(void *ctx, struct conn *c, int state, uint64_t age_ns)
{
	struct tracer *t = ctx;
	struct stuck s = { .state = state,
			   .age_ns = age_ns,
			   .pid = c->pid,
			   .comm = c->comm,
			   .netns = c->netns,
			   .cgroup = c->cgroup,
			   .family = c->family,
			   .laddr = c->laddr,
			   .raddr = c->raddr,
			   .lport = c->lport,
			   .rport = c->rport };

	if (c->stuck_reported)
		return;
	c->stuck_reported = true;
	stuck_print(&t->out, t->opts.csv ? stderr : t->out.f, &s, now_ns(CLOCK_MONOTONIC));
}

/* The orphans' tw socks, gathered before any is fed back to the table. */
struct orphans {
	uint64_t *tw;
	int n, cap;
	bool short_of_memory;
};

static void collect_orphan(void *ctx, uint64_t tw)
{
	struct orphans *o = ctx;

	if (o->n == o->cap) {
		int cap = o->cap ? 2 * o->cap : 256;
		uint64_t *p = realloc(o->tw, cap * sizeof(*p));

		if (!p) {
			o->short_of_memory = true;
			return;
		}
		o->tw = p;
		o->cap = cap;
	}
	o->tw[o->n++] = tw;
}

/*
 * Read every orphan FIN_WAIT2 tw sock: the peer's FIN may have turned it
 * into TIME_WAIT with a re-arm that fired no timer event. What is read
 * goes into the table (and a recording) as EV_TW_PROBE events.
 */
static void probe_orphans(struct tracer *t, uint64_t now)
{
	struct orphans o = { .n = 0 };

	if (!t->skel)
		return;
	ct_each_orphan(t->table, collect_orphan, &o);
	if (o.short_of_memory)
		die_msg("warning: out of memory: some orphans in FIN_WAIT2 not probed this time");
	for (int i = 0; i < o.n; i++) {
		struct event e = {
			.ts_ns = now, .type = EV_TW_PROBE, .id = o.tw[i], .family = AF_INET
		};

		if (probe_tw(t, o.tw[i], &e.newstate, &e.aux))
			continue;
		record_event(t, &e);
		ct_event(t->table, &e);
	}
	free(o.tw);
}

/* --stuck: what was already stuck before we began, age unknown. */
static void list_stuck_at_start(struct tracer *t)
{
	FILE *f = t->opts.csv ? stderr : t->out.f;
	struct diag_sock *s;
	size_t n;
	int err = sockdiag_stuck(&s, &n);

	if (err) {
		die_msg("warning: cannot list existing sockets (sock_diag: %s)", strerror(-err));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct stuck st = { .state = s[i].state,
				    .age_ns = -1,
				    .pid = s[i].pid,
				    .comm = s[i].comm,
				    .family = s[i].family,
				    .laddr = s[i].laddr,
				    .raddr = s[i].raddr,
				    .lport = s[i].lport,
				    .rport = s[i].rport };

		if (tuple_filtered(&t->opts, s[i].family, s[i].lport, s[i].rport))
			stuck_print(&t->out, f, &st, now_ns(CLOCK_MONOTONIC));
	}
	free(s);
}

/* The state gauges under the summary: endpoints in each state now (live only). */
static void print_gauges(struct tracer *t)
{
	static const int states[] = { GAUGE_STATES };
	int64_t n[GAUGE_SLOTS];

	if (!t->skel || !t->gauges || gauges_read(t, t->gauge_base, n))
		return;
	fprintf(t->out.f, "endpoints now:");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		fprintf(t->out.f, " %s %lld", state_name(states[i]),
			(long long)(n[states[i]] < 0 ? 0 : n[states[i]]));
	fputc('\n', t->out.f);
}

/* The summary as text or JSON; now: monotonic ns, interval_s 0 if not known. */
static void print_summary(struct tracer *t, uint64_t now, double interval_s)
{
	if (t->opts.json) {
		/* without -i, the time since start differs a little in a replay: left out */
		summary_print_json(t->summary, t->out.f, t->opts.interval_s > 0 ? interval_s : 0,
				   now + t->out.wall_offset_ns);
	} else {
		summary_print(t->summary, t->out.f, interval_s);
		print_gauges(t);
	}
}

/* The listener view as it is now (live only), as a table or JSON. */
static void print_listeners(struct tracer *t, uint64_t now)
{
	uint64_t missed;

	if (!t->opts.listeners || !t->skel || listenmap_read(t))
		return;
	missed = listen_misses(t);
	if (t->opts.json)
		lv_print_json(&t->lview, t->out.f, now + t->out.wall_offset_ns);
	else
		lv_print(&t->lview, t->out.f);
	if (missed)
		fprintf(stderr,
			"tcpphase: listeners: %llu packets not seen (recursion misses), "
			"the counts may be short by as many\n",
			(unsigned long long)missed);
}

/* -i: print the summary once its interval has passed (event time in a replay). */
static void interval_summary(struct tracer *t, uint64_t now)
{
	if ((!t->summary && !t->opts.listeners) || t->opts.interval_s <= 0 ||
	    now - t->last_summary < t->opts.interval_s * 1e9)
		return;
	if (t->summary) {
		print_summary(t, now, (now - t->last_summary) / 1e9);
		summary_reset(t->summary);
	}
	print_listeners(t, now);
	t->last_summary = now;
}

/*
 * Each second: the listener view from the kernel's counters now (owners
 * are named while they live), and its series in /metrics.
 */
static void update_listeners(struct tracer *t)
{
	if (!t->opts.listeners || !t->skel || listenmap_read(t) || !t->metrics)
		return;
	metrics_set_listeners(t->metrics, lv_metrics(&t->lview, t->opts.lports, t->opts.n_lports));
}

/* Once a second: losses, metrics, stuck sockets, and the periodic summary. */
static void periodic(struct tracer *t, uint64_t now)
{
	if (t->skel)
		report_losses(t, false);
	/* an orphan's FIN_WAIT2 may end with no event: ask, for the live outputs too */
	if (t->skel && (t->opts.stuck_s > 0 || t->summary || t->metrics))
		probe_orphans(t, now);
	update_metrics(t);
	update_listeners(t);
	if (t->opts.stuck_s > 0)
		ct_each_stuck(t->table, now, t->opts.stuck_s * 1e9, print_stuck, t);
	interval_summary(t, now);
}

/* The end of tracing at 'now': settle the table, record the end, final outputs. */
static void finish(struct tracer *t, uint64_t now)
{
	struct event end = { .ts_ns = now, .type = EV_END, .family = AF_INET };

	probe_orphans(t, now);
	record_event(t, &end);
	ct_flush(t->table, now);
	if (t->summary)
		print_summary(t, now, t->last_summary ? (now - t->last_summary) / 1e9 : 0);
	print_listeners(t, now);
}

/* The live poll loop: returns 0, or the errno of a failed write. */
static int run(struct tracer *t)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC), last_check = start;
	uint64_t stop_at = t->opts.duration_s > 0 ? start + t->opts.duration_s * 1e9 : 0;
	int err;

	t->last_summary = start;
	while (!exiting) {
		uint64_t now, read_start = now_ns(CLOCK_MONOTONIC);

		/* wakes early only when the buffer fills; records submitted
		 * without a wakeup are not reported by epoll: consume them */
		err = ring_buffer__poll(t->rb, POLL_MS);
		aggring_consume(t, now_ns(CLOCK_MONOTONIC));
		if (err >= 0)
			err = ring_buffer__consume(t->rb);
		/* what is older than this has come in by every way: in order */
		if (t->reorder) {
			reorder_flush(t->reorder, read_start - HOLD_NS);
			aggring_release(t);
		}
		if (err < 0 && err != -EINTR) {
			/* fatal: write what was read, then exit 1 (main) */
			die_msg("ring buffer: %s", strerror(-err));
			t->rb_err = err;
			break;
		}
		now = now_ns(CLOCK_MONOTONIC);
		ct_tick(t->table, now);
		if (out_flush(&t->out))
			return t->out.err;
		if (t->recorder && !t->rec_err)
			t->rec_err = recorder_flush(t->recorder);
		if (t->rec_err)
			return t->rec_err; /* negative: the recording failed */
		if (now - last_check >= LOSS_CHECK_NS) {
			periodic(t, now);
			last_check = now;
		}
		if (stop_at && now >= stop_at)
			break;
	}
	/* stop the programs, then drain what they wrote and what they hold */
	tcpphase_bpf__detach(t->skel);
	aggring_consume(t, now_ns(CLOCK_MONOTONIC));
	ring_buffer__consume(t->rb);
	if (t->reorder)
		reorder_flush(t->reorder, UINT64_MAX);
	drain_slots(t);
	finish(t, now_ns(CLOCK_MONOTONIC));
	return out_flush(&t->out);
}

/* -r: feed a recording through the same table and outputs; no BPF. */
static int replay(struct tracer *t)
{
	struct rec_header h;
	struct event e;
	char err[256];
	uint64_t last_tick = 0, last_ts = 0;
	struct replay *r = replay_open(t->opts.replay_path, &h, err, sizeof(err));
	int ret;

	if (!r) {
		die_msg("%s", err);
		return 1;
	}
	t->out.wall_offset_ns = h.wall_offset_ns;
	t->last_summary = h.start_ns;
	rst_reasons_load(); /* the names of this host's kernel */
	while ((ret = replay_next(r, &e, err, sizeof(err))) == 1 && !exiting) {
		if (e.type == EV_END) {
			finish(t, e.ts_ns);
			last_ts = 0;
			break;
		}
		ct_event(t->table, &e);
		last_ts = e.ts_ns;
		/* tick as the live loop did, every poll interval of event time */
		if (e.ts_ns - last_tick >= POLL_MS * 1000000ULL) {
			ct_tick(t->table, e.ts_ns);
			last_tick = e.ts_ns;
			interval_summary(t, e.ts_ns);
		}
		if (out_flush(&t->out))
			break;
	}
	replay_close(r);
	if (ret < 0) {
		die_msg("%s", err);
		return 1;
	}
	if (last_ts) /* a recording cut short: no end marker */
		finish(t, last_ts);
	if (out_flush(&t->out) == EPIPE)
		return 0;
	if (t->out.err) {
		die_msg("write error: %s", strerror(t->out.err));
		return 1;
	}
	return 0;
}

/* Set up what both live tracing and replay use: outputs and the table. */
static int setup_outputs(struct tracer *t)
{
	struct ct_config cfg = { 0 };
	char err[256];

	t->out.f = stdout;
	t->out.csv = t->opts.csv;
	t->out.json = t->opts.json;
	t->out.wide = t->opts.wide;
	t->out.open = t->opts.open;
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	if (t->opts.summary) {
		t->summary = summary_new(t->opts.by, t->opts.top);
		if (!t->summary) {
			die_msg("out of memory");
			return -1;
		}
		summary_set_cgroups(t->summary, t->out.cg);
	}
	if (t->opts.metrics_addr) {
		t->metrics = metrics_start(t->opts.metrics_addr, t->opts.lports, t->opts.n_lports,
					   err, sizeof(err));
		if (!t->metrics) {
			die_msg("--metrics: %s", err);
			return -1;
		}
		if (t->opts.metrics_by_workload &&
		    metrics_by_workload(t->metrics, t->out.cg,
					t->opts.metrics_top ? t->opts.metrics_top :
							      METRICS_TOP_DEFAULT,
					err, sizeof(err))) {
			die_msg("--metrics-by: %s", err);
			return -1;
		}
	}
	cfg.max_conns = t->opts.max_conns;
	cfg.ctx = t;
	cfg.on_reset = on_reset;
	if (t->opts.events) {
		cfg.on_transition = on_transition;
	} else {
		cfg.on_record = on_record;
		cfg.on_parts = on_parts;
	}
	t->table = ct_new(&cfg);
	if (!t->table) {
		die_msg("out of memory for %u connections", cfg.max_conns);
		return -1;
	}
	if (t->opts.events)
		events_sink.header(&t->out);
	else if (!t->opts.summary && !t->opts.listeners)
		lifecycle_sink.header(&t->out);
	else if (!t->opts.replay_path && !t->opts.json)
		fprintf(t->out.f, "Tracing TCP connection phases... Hit Ctrl-C to end.\n");
	return 0;
}

/*
 * The cgroup table (ids to paths and workloads) and --cgroup's ids for the
 * BPF filter. A bad --cgroup ends the program with status 2; no cgroup2
 * mount is said once (live only: a replay may come from another host).
 */
static int setup_cgroups(struct tracer *t)
{
	char err[512];

	t->out.cg = cg_new(NULL);
	if (!t->out.cg) {
		die_msg("out of memory");
		return -1;
	}
	for (int i = 0; i < t->opts.n_cgroups; i++) {
		if (cg_lookup(t->out.cg, t->opts.cgroups[i], &t->opts.cgroup_ids[i],
			      &t->opts.cgroup_levels[i], err, sizeof(err))) {
			die_msg("%s", err);
			exit(2);
		}
	}
	if (!cg_root(t->out.cg)[0] && !t->opts.replay_path)
		die_msg("warning: no cgroup2 file system mounted: the cgroup and workload "
			"columns stay empty");
	return 0;
}

int main(int argc, char **argv)
{
	struct tracer t = { 0 };
	int err, status = 1;

	opts_parse(argc, argv, &t.opts);
	t.out.wall_offset_ns = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
	libbpf_set_print(t.opts.verbose ? libbpf_print : libbpf_quiet);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, sig_stop);
	signal(SIGTERM, sig_stop);

	if (setup_cgroups(&t))
		goto cleanup;
	if (t.opts.replay_path) {
		if (setup_outputs(&t) == 0)
			status = replay(&t);
		goto cleanup;
	}
	if (start_bpf(&t) || setup_outputs(&t))
		goto cleanup;
	if (t.skel->rodata->aggregate) {
		t.reorder = reorder_new(t.ring_cpus, (size_t)1 << t.skel->rodata->agg_ring_bits,
					reordered_event, reordered_agg, &t);
		if (!t.reorder) {
			die_msg("out of memory");
			goto cleanup;
		}
	}
	if (t.opts.verbose)
		fprintf(stderr, "tcpphase: tracing, Ctrl-C to stop\n");
	if (t.opts.stuck_s > 0)
		list_stuck_at_start(&t);
	fflush(stdout);
	err = run(&t);
	if (t.rec_refused)
		die_msg("-W %s: %llu events not recorded (invalid)", t.opts.record_path,
			(unsigned long long)t.rec_refused);
	if (err == EPIPE) {
		status = 0; /* the reader went away: a normal end */
	} else if (err < 0) {
		die_msg("-W %s: %s", t.opts.record_path, strerror(-err));
	} else if (err) {
		die_msg("write error: %s", strerror(err));
	} else {
		/* a ring-buffer failure ended tracing: what was read is out, but 1 */
		status = t.rb_err ? 1 : 0;
		report_losses(&t, true);
		report_kcounters(&t);
	}
	if (t.recorder) {
		err = recorder_close(t.recorder);
		t.recorder = NULL;
		if (err && status == 0) {
			die_msg("-W %s: %s", t.opts.record_path, strerror(-err));
			status = 1;
		}
	}

cleanup:
	recorder_close(t.recorder);
	metrics_stop(t.metrics);
	summary_free(t.summary);
	ring_buffer__free(t.rb);
	aggring_close(&t);
	reorder_free(t.reorder);
	tcpphase_bpf__destroy(t.skel);
	ct_free(t.table);
	cg_free(t.out.cg);
	lv_free(&t.lview);
	return status;
}
