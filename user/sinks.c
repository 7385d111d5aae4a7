// SPDX-License-Identifier: GPL-2.0
/*
 * sinks.c - each output as a pipeline sink (sinks.h): the glue between the
 * table's hooks and each output's own functions, so that neither knows the
 * other.
 */
#include "log.h"
#include "metrics.h"
#include "sinks.h"
#include "summary.h"

static void lifecycle_record(void *ctx, const struct conn *c, enum rec_kind kind)
{
	lifecycle_sink.record(ctx, c, kind);
}

/* --open (the only time it is a sink's): a row when the handshake ends, before the endpoint's own. */
static void lifecycle_parts(void *ctx, const struct conn *c, unsigned int parts)
{
	struct out *o = ctx;

	if ((parts & CT_PART(CT_PART_RESULT)) && (c->result != RES_NONE || c->hs_kind != HS_NORMAL))
		lifecycle_sink.opened(o, c);
}

struct pl_sink lifecycle_pl_sink(struct out *o)
{
	/* parts only for --open: without, the table need not work them out */
	return (struct pl_sink){ .ctx = o,
				 .record = lifecycle_record,
				 .parts = o->open ? lifecycle_parts : NULL };
}

static void events_transition(void *ctx, const struct event *e, const struct conn *c,
			      int64_t elapsed_ns)
{
	events_sink.transition(ctx, e, c, elapsed_ns);
}

struct pl_sink events_pl_sink(struct out *o)
{
	return (struct pl_sink){ .ctx = o, .transition = events_transition };
}

static void summary_parts(void *ctx, const struct conn *c, unsigned int parts)
{
	struct summary_sink *ss = ctx;

	summary_add_parts(ss->s, c, parts);
}

static void summary_reset_seen(void *ctx, const struct event *e)
{
	struct summary_sink *ss = ctx;

	summary_add_reset(ss->s, e);
}

static void summary_start(void *ctx, uint64_t now)
{
	struct summary_sink *ss = ctx;

	ss->last = now;
}

/* The summary as text or JSON; now: monotonic ns, interval_s 0 if not known. */
static void summary_out(struct summary_sink *ss, uint64_t now, double interval_s)
{
	struct out *o = ss->out;

	if (o->json) {
		/* without -i, the time since start differs a little in a replay: left out */
		summary_print_json(ss->s, o->f, ss->interval_s > 0 ? interval_s : 0,
				   now + o->wall_offset_ns);
	} else {
		summary_print(ss->s, o->f, interval_s);
		if (ss->gauges)
			ss->gauges(ss->gauges_ctx, o->f);
	}
}

/* -i: print the summary once its interval has passed (event time in a replay). */
static void summary_periodic(void *ctx, uint64_t now)
{
	struct summary_sink *ss = ctx;

	if (ss->interval_s <= 0 || now - ss->last < ss->interval_s * 1e9)
		return;
	summary_out(ss, now, (now - ss->last) / 1e9);
	summary_reset(ss->s);
	ss->last = now;
}

static void summary_finish(void *ctx, uint64_t now)
{
	struct summary_sink *ss = ctx;

	summary_out(ss, now, ss->last ? (now - ss->last) / 1e9 : 0);
}

struct pl_sink summary_pl_sink(struct summary_sink *ss)
{
	return (struct pl_sink){ .ctx = ss,
				 .parts = summary_parts,
				 .reset = summary_reset_seen,
				 .start = summary_start,
				 .periodic = summary_periodic,
				 .finish = summary_finish };
}

static void metrics_parts(void *ctx, const struct conn *c, unsigned int parts)
{
	metrics_add_parts(ctx, c, parts);
}

static void metrics_reset_seen(void *ctx, const struct event *e)
{
	metrics_add_reset(ctx, e);
}

struct pl_sink metrics_pl_sink(struct metrics *m)
{
	return (struct pl_sink){ .ctx = m, .parts = metrics_parts, .reset = metrics_reset_seen };
}

static void listeners_parts(void *ctx, const struct conn *c, unsigned int parts)
{
	struct listeners_sink *ls = ctx;

	if (c->role == ROLE_PASSIVE && (parts & CT_PART(PH_ACCEPT_WAIT)))
		lv_add_accept_wait(&ls->lv, c->netns, c->lport, c->ph[PH_ACCEPT_WAIT]);
}

static void listeners_start(void *ctx, uint64_t now)
{
	struct listeners_sink *ls = ctx;

	ls->last = now;
}

/* The view as it is now, as a table or JSON, and what its programs missed. */
static void listeners_out(struct listeners_sink *ls, uint64_t now)
{
	struct out *o = ls->out;
	uint64_t missed = ls->misses ? ls->misses(ls->read_ctx) : 0;

	if (o->json)
		lv_print_json(&ls->lv, o->f, now + o->wall_offset_ns);
	else
		lv_print(&ls->lv, o->f);
	if (missed)
		log_warn(ls->log,
			 "listeners: %llu packets not seen (recursion misses), the counts may "
			 "be short by as many",
			 (unsigned long long)missed);
}

/* Each second: the kernel's counters, the metrics; every -i the view. */
static void listeners_periodic(void *ctx, uint64_t now)
{
	struct listeners_sink *ls = ctx;

	if (!ls->read || ls->read(ls->read_ctx, &ls->lv))
		return;
	if (ls->metrics)
		metrics_set_listeners(ls->metrics, lv_metrics(&ls->lv, ls->ports, ls->n_ports));
	if (ls->interval_s <= 0 || now - ls->last < ls->interval_s * 1e9)
		return;
	listeners_out(ls, now);
	ls->last = now;
}

static void listeners_finish(void *ctx, uint64_t now)
{
	struct listeners_sink *ls = ctx;

	if (ls->read && !ls->read(ls->read_ctx, &ls->lv))
		listeners_out(ls, now);
}

struct pl_sink listeners_pl_sink(struct listeners_sink *ls)
{
	return (struct pl_sink){ .ctx = ls,
				 .parts = listeners_parts,
				 .start = listeners_start,
				 .periodic = listeners_periodic,
				 .finish = listeners_finish };
}
