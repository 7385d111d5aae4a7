/* SPDX-License-Identifier: GPL-2.0 */
/*
 * summary.h - aggregate view of finished connections: per phase, count and
 * p50/p90/p99/max with a bcc-style log2 histogram, counts of handshake
 * results and of TIME_WAIT endings, optionally grouped by one key (remote
 * address, a port, comm, netns) and ranked by the worst p99.
 *
 * Pure: no I/O but the FILE * handed to summary_print. Fed with complete
 * (REC_FINAL) records only. The phase selection (summary_phase_ns) and the
 * result classes are shared with the Prometheus exporter (metrics.c) so that
 * both outputs count the same things.
 */
#ifndef __SUMMARY_H
#define __SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "conntable.h"

/* The phases the aggregate outputs time. */
enum sum_phase {
	SP_HS_ACTIVE, /* successful active handshake (connect to ESTABLISHED) */
	SP_HS_PASSIVE, /* successful passive handshake (SYN to ESTABLISHED) */
	SP_ACCEPT_WAIT,
	SP_FIN_WAIT1,
	SP_FIN_WAIT2,
	SP_CLOSE_WAIT,
	SP_LAST_ACK,
	SP_CLOSING,
	SP_TIME_WAIT,
	SP_MAX,
};

/* Handshake results as the aggregates count them. */
enum sum_result {
	SR_OK,
	SR_REFUSED,
	SR_TIMEOUT,
	SR_RESET,
	SR_UNREACHABLE,
	SR_ABORTED,
	SR_OTHER, /* another errno */
	SR_NONE, /* handshake not seen (open before tracing began) */
	SR_MAX,
};

/*
 * Duration in ns of phase p of a complete record, or -1 when the record has
 * none to count: the phase did not happen, the handshake failed (failures
 * are counted by result, not timed), or it is the phase that was cut short
 * when tracing stopped (tw_end in_progress), whose time is only a lower bound.
 */
int64_t summary_phase_ns(const struct conn *c, enum sum_phase p);
/* "handshake active", ..., "TIME_WAIT"; "?" out of range. */
const char *summary_phase_name(int p);
/* The class of c's handshake result, and its name ("ok", ..., "other", "none"). */
enum sum_result summary_result_of(const struct conn *c);
const char *summary_result_name(int r);

enum summary_by { BY_NONE, BY_REMOTE, BY_LPORT, BY_RPORT, BY_COMM, BY_NETNS };

/* Groups kept per summary; records of further keys are counted under "other". */
#define SUMMARY_MAX_GROUPS 4096

struct summary;

/* "remote", "lport", "rport", "comm" or "netns": 0 and *by set, else -1. */
int summary_by_parse(const char *s, enum summary_by *by);
/* A summary grouped by 'by' showing the top_n worst groups; NULL if out of memory. */
struct summary *summary_new(enum summary_by by, int top_n);
/* Count one complete (REC_FINAL) record. */
void summary_add(struct summary *s, const struct conn *c);
/*
 * Write the summary to f, fitting 80 columns. interval_s is the time the
 * records were gathered over (shown when > 0). Times are in ms.
 */
void summary_print(const struct summary *s, FILE *f, double interval_s);

/* What summary_print shows for one phase over all records; times in ns, -1 if count is 0. */
struct sum_stats {
	uint64_t count;
	int64_t p50_ns, p90_ns, p99_ns, max_ns;
};
void summary_stats(const struct summary *s, enum sum_phase p, struct sum_stats *st);
/* Forget every record (keeps by and top_n): for one summary per interval. */
void summary_reset(struct summary *s);
void summary_free(struct summary *s);

#endif /* __SUMMARY_H */
