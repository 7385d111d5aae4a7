/* SPDX-License-Identifier: GPL-2.0 */
/*
 * summary.h - aggregate view of finished connections: per phase, count and
 * p50/p90/p99/max with a bcc-style log2 histogram, counts of handshake
 * results and of TIME_WAIT endings, optionally grouped by one key (remote
 * address, a port, comm, netns, cgroup, workload) and ranked by the worst p99.
 *
 * Pure: no I/O but the FILE * handed to summary_print. Fed with the parts
 * of each record as they become known (summary_add_parts), so a handshake
 * is counted when it completes, not when its endpoint's record does. The phase selection (summary_phase_ns) and the
 * result classes are shared with the Prometheus exporter (metrics.c) so that
 * both outputs count the same things.
 */
#ifndef __SUMMARY_H
#define __SUMMARY_H

#include <stdbool.h>
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

enum summary_by {
	BY_NONE,
	BY_REMOTE,
	BY_LPORT,
	BY_RPORT,
	BY_COMM,
	BY_NETNS,
	BY_CGROUP, /* the cgroup's path (cgroups.h); "-" for none, its id if not found */
	BY_WORKLOAD, /* the cgroup's workload name; "-" for none */
	BY_MAX,
};

/* Groups kept per summary; records of further keys are counted under "other". */
#define SUMMARY_MAX_GROUPS 4096

struct summary;
struct cgroups;

/* "remote", "lport", "rport", "comm", "netns", "cgroup" or "workload": 0 and *by set, else -1. */
int summary_by_parse(const char *s, enum summary_by *by);
/* A summary grouped by 'by' showing the top_n worst groups; NULL if out of memory. */
struct summary *summary_new(enum summary_by by, int top_n);
/*
 * The table that names cgroups for BY_CGROUP and BY_WORKLOAD (the caller's,
 * alive as long as s); without one every record is in the "-" group.
 */
void summary_set_cgroups(struct summary *s, struct cgroups *cg);
/* Count one complete (REC_FINAL) record. */
void summary_add(struct summary *s, const struct conn *c);
/*
 * Count the parts of c (CT_PART() bits, conntable.h) as they become known:
 * a phase when it ends, the result, the TIME_WAIT's end, the record itself.
 * summary_add() is all of them at once.
 */
void summary_add_parts(struct summary *s, const struct conn *c, unsigned int parts);
/* summary_phase_ns(c, p) if parts hold the part that p times, else -1. */
int64_t summary_part_ns(const struct conn *c, enum sum_phase p, unsigned int parts);
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
/* The counts summary_print shows first. */
struct sum_counts {
	uint64_t conns, partial;
	uint64_t results[SR_MAX];
	uint64_t tw_ends[TWE_IN_PROGRESS + 1]; /* by enum tw_end */
};
void summary_counts(const struct summary *s, struct sum_counts *c);

/* The log2 histogram of phase p over all records: slot[k] counts [2^k, 2^(k+1)) us, slot 0 0-1 us. */
#define SUM_LOG2_SLOTS 36
void summary_log2(const struct summary *s, enum sum_phase p, uint64_t slot[SUM_LOG2_SLOTS]);

/* A --by group as summary_print ranks and shows it. */
#define SUM_LABEL_LEN 256 /* longer cgroup paths are cut */
struct sum_group {
	char label[SUM_LABEL_LEN]; /* address, port, comm, netns, cgroup, workload, or "other" */
	bool other; /* the group of keys beyond SUMMARY_MAX_GROUPS */
	uint64_t conns;
	struct sum_stats st[SP_MAX]; /* count 0: no record timed that phase */
};
/*
 * The groups shown (the top_n worst p99 first) into *out (malloc'ed, free
 * it): returns how many, with *total the number of groups; -1 if out of memory.
 */
int summary_groups(const struct summary *s, struct sum_group **out, int *total);
/* The --by key's name ("remote"...), "" without one. */
const char *summary_by_name(const struct summary *s);

/*
 * The summary as one JSON object on one line (--json): the counts, each
 * phase's figures in us with its log2 histogram, and the groups. wall_ns:
 * when it was taken (wall clock).
 */
void summary_print_json(const struct summary *s, FILE *f, double interval_s, uint64_t wall_ns);

/* Forget every record (keeps by and top_n): for one summary per interval. */
void summary_reset(struct summary *s);
/* Count one reset (an EV_RST event), ours or not. */
void summary_add_reset(struct summary *s, const struct event *e);
struct rst_counts;
const struct rst_counts *summary_resets(const struct summary *s);
void summary_free(struct summary *s);

#endif /* __SUMMARY_H */
