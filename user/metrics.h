/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics.h - Prometheus exposition of the finished connections: phase
 * histograms, result and TIME_WAIT-ending counters, tcpphase's own loss
 * counters and the kernel's TIME_WAIT counters, served over HTTP at
 * GET /metrics by libmicrohttpd's own thread.
 *
 * Label cardinality is bounded: no per-connection labels, an lport label
 * only for the ports given to metrics_start (the others share
 * lport="other"; no lport label at all when none are given), and with
 * metrics_by_workload a workload label for at most METRICS_TOP_MAX
 * workloads plus workload="other".
 */
#ifndef __METRICS_H
#define __METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "conntable.h"

struct metrics;
struct cgroups;

#define METRICS_TOP_MAX 50 /* workloads named at most (--metrics-top) */
#define METRICS_TOP_DEFAULT 10

/* Counters owned by the caller (loader, table, kernel), shown as they are given. */
struct metrics_extra {
	uint64_t events; /* events read from the ring buffer */
	uint64_t lost_ringbuf; /* ring-buffer reservations that failed */
	uint64_t lost_recursion; /* recursion misses no program recovered */
	uint64_t rescued; /* misses the rescue programs recovered */
	uint64_t table_full; /* endpoints not tracked: table full */
	uint64_t partial; /* records with a missed transition or cut at exit */
	uint64_t k_tw, k_tw_killed, k_tw_recycled, k_tw_overflow; /* TcpExt counters */
	uint64_t k_tw_live; /* /proc/net/sockstat tw: alive now */
	bool have_endpoints; /* the state gauges below are kept */
	int64_t endpoints[GAUGE_SLOTS]; /* endpoints per TCP state now, by state number */
};

/*
 * Serve GET /metrics on addr: "HOST:PORT", ":PORT" (every address) or
 * "[V6ADDR]:PORT"; port 0 picks a free port (see metrics_port). Up to
 * MAX_PORTS label_ports get an lport label of their own. Returns NULL with
 * a one-line reason in err on failure.
 */
struct metrics *metrics_start(const char *addr, const uint16_t *label_ports, int n_label_ports,
			      char *err, size_t errlen);
/*
 * Label the handshake, phase, TIME_WAIT and connection series with the
 * workload of each endpoint's cgroup, named by cg (the caller's, alive until
 * metrics_stop; "unknown" for an endpoint with none). The top workloads
 * (1..METRICS_TOP_MAX) by endpoints seen since start keep their name, the
 * others count as workload="other" (see wl_rank in metrics.c for how the
 * named set changes). Call it before counting anything. 0, or -1 with a
 * one-line reason in err.
 */
int metrics_by_workload(struct metrics *m, struct cgroups *cg, int top, char *err, size_t errlen);
/* The port served on (host order). */
uint16_t metrics_port(const struct metrics *m);
/*
 * Count one complete (REC_FINAL) record. From the event thread: it takes a
 * mutex held only to bump counters, never while formatting or sending.
 */
void metrics_add(struct metrics *m, const struct conn *c);
/* Count one reset (an EV_RST event), ours or not: tcpphase_resets_total. */
void metrics_add_reset(struct metrics *m, const struct event *e);
/* Count the parts of c as they become known (see summary_add_parts). */
void metrics_add_parts(struct metrics *m, const struct conn *c, unsigned int parts);
/* Replace the caller-owned counters with *x. */
void metrics_set_extra(struct metrics *m, const struct metrics_extra *x);
/* Serve text (malloc'ed, taken over; NULL for none) after the other series. */
void metrics_set_listeners(struct metrics *m, char *text);
/* Stop serving (closing open connections) and free m; NULL is fine. */
void metrics_stop(struct metrics *m);
/* The exposition text as GET /metrics serves it, malloc'ed (caller frees); NULL if OOM. */
char *metrics_render(struct metrics *m);

#endif /* __METRICS_H */
