// SPDX-License-Identifier: GPL-2.0
/*
 * live.c - live tracing: bring the programs up (bpfsetup.c), poll the ring
 * buffer and the per-CPU rings on a timer (the programs submit without
 * wakeups), hand what they read to the pipeline, once a second report
 * losses and ask after the orphans' tw socks, and at the end drain what
 * the kernel still holds and report every loss (losses.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <bpf/libbpf.h>

#include "format.h"
#include "gauges.h"
#include "record.h"
#include "reorder.h"
#include "session.h"
#include "sockdiag.h"
#include "summary.h"
#include "tcpphase.skel.h"
#include "tracer.h"

/* A record reaches user space within this long of its time (reorder.h). */
#define HOLD_NS 10000000ULL
#define LOSS_CHECK_NS 1000000000ULL

struct live {
	struct session *s;
	struct tracer t;
	int rb_err; /* the ring buffer failed (-errno): tracing ended, exit status 1 */
};

static void print_stuck(void *ctx, struct conn *c, int state, uint64_t age_ns)
{
	struct live *l = ctx;
	struct out *o = l->s->out;
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
	stuck_print(o, l->s->opts->csv ? stderr : o->f, &s, now_ns(CLOCK_MONOTONIC));
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
 * goes into the pipeline as EV_TW_PROBE events.
 */
static void probe_orphans(struct live *l, uint64_t now)
{
	struct orphans o = { .n = 0 };

	ct_each_orphan(l->s->pl->table, collect_orphan, &o);
	if (o.short_of_memory)
		log_warn(l->s->log,
			 "out of memory: some orphans in FIN_WAIT2 not probed this time");
	for (int i = 0; i < o.n; i++) {
		struct event e = {
			.ts_ns = now, .type = EV_TW_PROBE, .id = o.tw[i], .family = AF_INET
		};

		if (probe_tw(&l->t, o.tw[i], &e.newstate, &e.aux))
			continue;
		pl_event(l->s->pl, &e);
	}
	free(o.tw);
}

/* --stuck: what was already stuck before we began, age unknown. */
static void list_stuck_at_start(struct live *l)
{
	const struct options *opts = l->s->opts;
	struct out *out = l->s->out;
	FILE *f = opts->csv ? stderr : out->f;
	struct diag_sock *s;
	size_t n;
	int err = sockdiag_stuck(&s, &n);

	if (err) {
		log_warn(l->s->log, "cannot list existing sockets (sock_diag: %s)", strerror(-err));
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

		if (tuple_filtered(opts, s[i].family, s[i].lport, s[i].rport))
			stuck_print(out, f, &st, now_ns(CLOCK_MONOTONIC));
	}
	free(s);
}

/* The state gauges under the text summary: endpoints in each state now. */
static void print_gauges(void *ctx, FILE *f)
{
	static const int states[] = { GAUGE_STATES };
	struct live *l = ctx;
	int64_t n[GAUGE_SLOTS];

	if (!l->t.gauges || gauges_read(&l->t, l->t.gauge_base, n))
		return;
	fprintf(f, "endpoints now:");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		fprintf(f, " %s %lld", state_name(states[i]),
			(long long)(n[states[i]] < 0 ? 0 : n[states[i]]));
	fputc('\n', f);
}

/* The listener view's readers (sinks.h), over the programs' maps and stats. */
static int read_listeners(void *ctx, struct listen_view *lv)
{
	return listenmap_read(ctx, lv);
}

static uint64_t listeners_missed(void *ctx)
{
	return listen_misses(ctx);
}

/* Once a second: losses, metrics, stuck sockets, the sinks' periodic work. */
static void periodic(struct live *l, uint64_t now)
{
	const struct options *o = l->s->opts;

	report_losses(&l->t, false);
	/* an orphan's FIN_WAIT2 may end with no event: ask, for the live outputs too */
	if (o->stuck_s > 0 || l->s->summary || l->s->metrics)
		probe_orphans(l, now);
	update_metrics(&l->t);
	if (o->stuck_s > 0)
		ct_each_stuck(l->s->pl->table, now, o->stuck_s * 1e9, print_stuck, l);
	pl_periodic(l->s->pl, now);
	log_print(l->s->log);
}

/* The end of tracing at 'now': the orphans' last state, then the pipeline's end. */
static void finish(struct live *l, uint64_t now)
{
	probe_orphans(l, now);
	pl_finish(l->s->pl, now);
}

/* reorder.h and drain_slots callbacks */
static void reordered_event(void *ctx, const struct event *e)
{
	pl_event(ctx, e);
}

static void reordered_agg(void *ctx, const struct agg_event *a)
{
	pl_agg(ctx, a);
}

/* The poll loop: returns 0, or the errno of a failed write (negative: the recording's). */
static int poll_loop(struct live *l)
{
	struct pipeline *pl = l->s->pl;
	struct tracer *t = &l->t;
	struct out *out = l->s->out;
	const struct options *o = l->s->opts;
	uint64_t start = now_ns(CLOCK_MONOTONIC), last_check = start;
	uint64_t stop_at = o->duration_s > 0 ? start + o->duration_s * 1e9 : 0;
	int err;

	pl_start(pl, start);
	while (!*l->s->stop) {
		uint64_t now, read_start = now_ns(CLOCK_MONOTONIC);

		/* wakes early only when the buffer fills; records submitted
		 * without a wakeup are not reported by epoll: consume them */
		err = ring_buffer__poll(t->rb, POLL_MS);
		aggring_consume(&t->agg, pl->reorder, now_ns(CLOCK_MONOTONIC));
		if (err >= 0)
			err = ring_buffer__consume(t->rb);
		/* what is older than this has come in by every way: in order */
		if (pl->reorder) {
			reorder_flush(pl->reorder, read_start - HOLD_NS);
			aggring_release(&t->agg, pl->reorder);
		}
		if (err < 0 && err != -EINTR) {
			/* fatal: write what was read, then exit 1 */
			log_err(l->s->log, err, "ring buffer: %s", strerror(-err));
			l->rb_err = err;
			break;
		}
		now = now_ns(CLOCK_MONOTONIC);
		pl_tick(pl, now);
		if (out_flush(out))
			return out->err;
		if (pl_flush_recording(pl))
			return pl->rec_err; /* negative: the recording failed */
		if (now - last_check >= LOSS_CHECK_NS) {
			periodic(l, now);
			last_check = now;
		}
		if (stop_at && now >= stop_at)
			break;
	}
	/* stop the programs, then drain what they wrote and what they hold */
	tcpphase_bpf__detach(t->skel);
	aggring_consume(&t->agg, pl->reorder, now_ns(CLOCK_MONOTONIC));
	ring_buffer__consume(t->rb);
	if (pl->reorder)
		reorder_flush(pl->reorder, UINT64_MAX);
	drain_slots(t->skel, reordered_agg, reordered_event, pl, l->s->log);
	finish(l, now_ns(CLOCK_MONOTONIC));
	return out_flush(out);
}

/* -W: the recording, opened before attaching so that it misses nothing. */
static int open_recording(struct live *l)
{
	const struct options *o = l->s->opts;
	struct pipeline *pl = l->s->pl;
	struct rec_header h;
	char err[256];

	if (!o->record_path)
		return 0;
	rec_header_init(&h);
	h.wall_offset_ns = l->s->out->wall_offset_ns; /* one conversion for both */
	pl->recorder = recorder_open(o->record_path, &h, err, sizeof(err));
	if (pl->recorder && getrandom(&pl->rec_key, sizeof(pl->rec_key), 0) != sizeof(pl->rec_key))
		return log_err(l->s->log, -1, "-W: no random key to hide kernel addresses with: %s",
			       strerror(errno));
	if (!pl->recorder)
		return log_err(l->s->log, -1, "-W: %s", err);
	return 0;
}

/* The programs up, the reorder stage made when aggregating; 0 or -1 (the log says why). */
static int start(struct live *l)
{
	struct tracer *t = &l->t;
	struct pipeline *pl = l->s->pl;

	if (bpf_load(t, pl_ring_record, pl) || open_recording(l) || bpf_attach(t) ||
	    l->s->open_outputs(l->s->ctx))
		return -1;
	if (t->skel->rodata->aggregate) {
		pl->reorder = reorder_new(t->agg.rd.cpus,
					  (size_t)1 << t->skel->rodata->agg_ring_bits,
					  reordered_event, reordered_agg, pl);
		if (!pl->reorder)
			return log_err(l->s->log, -1, "out of memory");
	}
	l->t.metrics = l->s->metrics;
	if (l->s->listeners) {
		l->s->listeners->read = read_listeners;
		l->s->listeners->misses = listeners_missed;
		l->s->listeners->read_ctx = &l->t;
	}
	if (l->s->summary) {
		l->s->summary->gauges = print_gauges;
		l->s->summary->gauges_ctx = l;
	}
	return 0;
}

/* Trace, then the end-of-run reports; the exit status. */
static int trace(struct live *l)
{
	const struct options *o = l->s->opts;
	struct pipeline *pl = l->s->pl;
	int err, status = 1;

	if (o->verbose)
		log_note(l->s->log, "tracing, Ctrl-C to stop");
	log_print(l->s->log);
	if (o->stuck_s > 0)
		list_stuck_at_start(l);
	log_print(l->s->log);
	fflush(stdout);
	err = poll_loop(l);
	if (pl->rec_refused)
		log_err(l->s->log, 0, "-W %s: %llu events not recorded (invalid)", o->record_path,
			(unsigned long long)pl->rec_refused);
	if (err == EPIPE) {
		status = 0; /* the reader went away: a normal end */
	} else if (err < 0) {
		log_err(l->s->log, 0, "-W %s: %s", o->record_path, strerror(-err));
	} else if (err) {
		log_err(l->s->log, 0, "write error: %s", strerror(err));
	} else {
		/* a ring-buffer failure ended tracing: what was read is out, but 1 */
		status = l->rb_err ? 1 : 0;
		log_print(l->s->log);
		report_losses(&l->t, true);
		report_kcounters(&l->t);
	}
	if (pl->recorder) {
		err = recorder_close(pl->recorder);
		pl->recorder = NULL;
		if (err && status == 0) {
			log_err(l->s->log, 0, "-W %s: %s", o->record_path, strerror(-err));
			status = 1;
		}
	}
	return status;
}

int live_run(struct session *s)
{
	struct live *l = calloc(1, sizeof(*l));
	int status = 1;

	if (!l)
		return log_err(s->log, 1, "out of memory");
	l->s = s;
	l->t.opts = s->opts;
	l->t.pl = s->pl;
	l->t.log = s->log;
	if (!start(l))
		status = trace(l);
	recorder_close(s->pl->recorder);
	s->pl->recorder = NULL;
	ring_buffer__free(l->t.rb);
	aggring_close(&l->t.agg);
	/* the reorder stage reads the rings' records in place: gone with them */
	reorder_free(s->pl->reorder);
	s->pl->reorder = NULL;
	tcpphase_bpf__destroy(l->t.skel);
	free(l);
	return status;
}
