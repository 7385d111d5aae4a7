// SPDX-License-Identifier: GPL-2.0
/*
 * pipeline.c - events in from any source, to the recording and the table;
 * the table's output out to every sink (pipeline.h). No libbpf and no I/O
 * of its own: the sources and the sinks do theirs.
 */
#include <errno.h>
#include <sys/socket.h>

#include "agg.h"
#include "pipeline.h"
#include "record.h"
#include "reorder.h"

/*
 * bench/floor.sh (stage0-2) builds tcpphase with BENCH_STAGE set, to measure what
 * each stage of user space costs on its own: 0 reads the records and puts
 * them in time order, then drops them; 1 also expands them into events;
 * 2 also runs the table, but hands nothing to the sinks. Unset: all of it.
 */
#ifndef BENCH_STAGE
#define BENCH_STAGE 3
#endif

#define EACH_SINK(p, s) \
	for (const struct pl_sink *s = (p)->sinks; s < (p)->sinks + (p)->n_sinks; s++)

static void on_record(void *ctx, const struct conn *c, enum rec_kind kind)
{
	struct pipeline *p = ctx;

	if (BENCH_STAGE < 3)
		return;
	EACH_SINK(p, s)
	if (s->record)
		s->record(s->ctx, c, kind);
}

static void on_parts(void *ctx, const struct conn *c, unsigned int parts)
{
	struct pipeline *p = ctx;

	if (BENCH_STAGE < 3)
		return;
	EACH_SINK(p, s)
	if (s->parts)
		s->parts(s->ctx, c, parts);
}

static void on_reset(void *ctx, const struct event *e)
{
	struct pipeline *p = ctx;

	EACH_SINK(p, s)
	if (s->reset)
		s->reset(s->ctx, e);
}

static void on_transition(void *ctx, const struct event *e, const struct conn *c,
			  int64_t elapsed_ns)
{
	struct pipeline *p = ctx;

	EACH_SINK(p, s)
	if (s->transition)
		s->transition(s->ctx, e, c, elapsed_ns);
}

int pl_init(struct pipeline *p, uint32_t max_conns, bool transitions)
{
	struct ct_config cfg = { .max_conns = max_conns, .ctx = p, .on_reset = on_reset };

	/* parts go to on_parts once a sink wants them (pl_add_sink) */
	if (transitions)
		cfg.on_transition = on_transition;
	else
		cfg.on_record = on_record;
	p->transitions = transitions;
	p->table = ct_new(&cfg);
	return p->table ? 0 : -ENOMEM;
}

int pl_add_sink(struct pipeline *p, const struct pl_sink *s)
{
	if (p->n_sinks == PL_MAX_SINKS)
		return -ENOSPC;
	p->sinks[p->n_sinks++] = *s;
	if (s->parts && !p->transitions)
		ct_set_parts(p->table, on_parts);
	return 0;
}

void pl_free(struct pipeline *p)
{
	reorder_free(p->reorder);
	ct_free(p->table);
	p->reorder = NULL;
	p->table = NULL;
}

static void record_event(struct pipeline *p, const struct event *e)
{
	struct event named;
	int err;

	if (!p->recorder || p->rec_err)
		return;
	named = *e; /* after the test: every event comes here, recording or not */
	/* no kernel address reaches the file: the replay needs identity only */
	rec_hide_pointers(&named, p->rec_key);
	err = recorder_write(p->recorder, &named);
	if (err == -EINVAL)
		p->rec_refused++; /* an event the format cannot hold: counted */
	else if (err)
		p->rec_err = err;
}

void pl_event(struct pipeline *p, const struct event *e)
{
	record_event(p, e);
	if (BENCH_STAGE < 2)
		return;
	ct_event(p->table, e);
}

/*
 * An aggregated record goes in as the events it stands for. A per-CPU ring
 * also carries single events (TIME_WAIT ends): those go in as they are.
 */
void pl_agg(struct pipeline *p, const struct agg_event *a)
{
	struct event ev[AGG_MAX_EVENTS];
	int n;

	if (a->head.type != EV_AGG) {
		pl_event(p, &a->head);
		return;
	}
	if (BENCH_STAGE < 1)
		return;
	n = agg_expand(a, ev);
	if (!n)
		p->agg_refused++; /* cannot be right: counted as lost */
	for (int i = 0; i < n; i++)
		pl_event(p, &ev[i]);
}

/*
 * A ring-buffer record. Aggregating, it is held until it can be handed on
 * in time order with the per-CPU rings' records; else this is the only way.
 */
int pl_ring_record(void *ctx, void *data, size_t len)
{
	struct pipeline *p = ctx;
	const struct event *e = data;

	/* shorter: a per-CPU ring's wake-up call (struct ring_wakeup), no record */
	if (len < sizeof(struct event))
		return 0;
	if (p->reorder)
		reorder_event(p->reorder, e);
	else
		pl_event(p, e);
	return 0;
}

void pl_replayed(struct pipeline *p, const struct event *e)
{
	ct_event(p->table, e);
}

void pl_tick(struct pipeline *p, uint64_t now)
{
	ct_tick(p->table, now);
}

void pl_start(struct pipeline *p, uint64_t now)
{
	EACH_SINK(p, s)
	if (s->start)
		s->start(s->ctx, now);
}

void pl_periodic(struct pipeline *p, uint64_t now)
{
	EACH_SINK(p, s)
	if (s->periodic)
		s->periodic(s->ctx, now);
}

void pl_finish(struct pipeline *p, uint64_t now)
{
	struct event end = { .ts_ns = now, .type = EV_END, .family = AF_INET };

	record_event(p, &end);
	ct_flush(p->table, now);
	EACH_SINK(p, s)
	if (s->finish)
		s->finish(s->ctx, now);
}

int pl_flush_recording(struct pipeline *p)
{
	if (p->recorder && !p->rec_err)
		p->rec_err = recorder_flush(p->recorder);
	return p->rec_err;
}
