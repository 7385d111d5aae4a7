// SPDX-License-Identifier: GPL-2.0
/*
 * summary.c - the aggregate view of finished connections (see summary.h).
 *
 * Each phase keeps a bounded log-linear histogram of microseconds, from
 * which the percentiles are read and the bcc-style log2 histogram is drawn
 * (its buckets never straddle a power of two, so the log2 counts are exact).
 * With a grouping key, each group has its own histograms, allocated on the
 * first record of that phase; at most SUMMARY_MAX_GROUPS groups are kept,
 * and records of further keys go to one "other" group, so memory stays
 * bounded whatever the traffic.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cgroups.h"
#include "format.h"
#include "resetstats.h"
#include "summary.h"

/*
 * Log-linear histogram of microseconds: below 16 us one bucket per us;
 * above, each power of two [2^k, 2^(k+1)) is cut into 16 equal buckets, up
 * to 2^36 us (19 hours), and longer durations share the last bucket. A
 * percentile is the midpoint of the bucket its rank falls in, clamped to
 * the observed min and max, so it is off by at most half a bucket: 1/32
 * of the value (3.125%), or 0.5 us below 16 us. In the last bucket the max
 * is reported instead. Counts saturate at UINT32_MAX per bucket.
 */
#define HB_SUB_BITS 4
#define HB_SUB (1 << HB_SUB_BITS)
#define HB_LOG_MAX 36
#define HB_N (HB_SUB + (HB_LOG_MAX - HB_SUB_BITS) * HB_SUB)

struct phist {
	uint64_t count;
	int64_t min_ns, max_ns;
	uint32_t b[HB_N];
};

/*
 * Group key bytes: family + address, a port, comm, netns or cgroup id,
 * zero-padded; for a workload, a hash of its name (kept in the group).
 */
#define GKEY_LEN 17
#define GSLOTS (2 * SUMMARY_MAX_GROUPS) /* power of two, load <= 1/2 */

struct group {
	uint8_t key[GKEY_LEN];
	char *name; /* BY_WORKLOAD: the workload (owned); NULL: none, "-" */
	bool other; /* the group of keys beyond the bound */
	uint64_t conns;
	struct phist *ph[SP_MAX]; /* NULL until that phase has a record */
};

struct summary {
	enum summary_by by;
	int top_n;
	struct cgroups *cg; /* names cgroups; NULL: none known */
	uint64_t conns, partial;
	uint64_t results[SR_MAX];
	uint64_t tw_ends[TWE_IN_PROGRESS + 1];
	struct phist total[SP_MAX];
	struct group **slots; /* GSLOTS, open addressing; NULL when by == BY_NONE */
	struct group *groups[SUMMARY_MAX_GROUPS];
	int n_groups;
	struct group *other;
	struct rst_counts resets; /* every reset seen, ours or not */
};

static const char *const phase_names[SP_MAX] = {
	"handshake active", "handshake passive", "accept wait", "FIN_WAIT1", "FIN_WAIT2",
	"CLOSE_WAIT",	    "LAST_ACK",		 "CLOSING",	"TIME_WAIT",
};

static const char *const result_names[SR_MAX] = {
	"ok", "refused", "timeout", "reset", "unreachable", "aborted", "other", "none",
};

const char *summary_phase_name(int p)
{
	return p >= 0 && p < SP_MAX ? phase_names[p] : "?";
}

const char *summary_result_name(int r)
{
	return r >= 0 && r < SR_MAX ? result_names[r] : "?";
}

enum sum_result summary_result_of(const struct conn *c)
{
	switch (c->result) {
	case RES_OK:
		return SR_OK;
	case RES_REFUSED:
		return SR_REFUSED;
	case RES_TIMEOUT:
		return SR_TIMEOUT;
	case RES_RESET:
		return SR_RESET;
	case RES_UNREACHABLE:
		return SR_UNREACHABLE;
	case RES_ABORTED:
		return SR_ABORTED;
	case RES_NONE:
		return SR_NONE;
	default:
		return SR_OTHER;
	}
}

/* The phase of the state an endpoint was in when tracing stopped, -1 if none. */
static int cut_phase(const struct conn *c)
{
	/* the full socket still open, else its tw sock (flush_sock / flush_tw) */
	int st = c->sk ? c->state : c->tw_substate;

	switch (st) {
	case TS_FIN_WAIT1:
		return SP_FIN_WAIT1;
	case TS_FIN_WAIT2:
		return SP_FIN_WAIT2;
	case TS_CLOSE_WAIT:
		return SP_CLOSE_WAIT;
	case TS_LAST_ACK:
		return SP_LAST_ACK;
	case TS_CLOSING:
		return SP_CLOSING;
	case TS_TIME_WAIT:
		return SP_TIME_WAIT;
	default:
		return -1;
	}
}

int64_t summary_phase_ns(const struct conn *c, enum sum_phase p)
{
	int64_t ns;

	switch (p) {
	case SP_HS_ACTIVE:
	case SP_HS_PASSIVE:
		if (c->role != (p == SP_HS_ACTIVE ? ROLE_ACTIVE : ROLE_PASSIVE) ||
		    c->result != RES_OK || c->hs_kind != HS_NORMAL)
			return -1;
		ns = c->ph[PH_HANDSHAKE];
		break;
	case SP_ACCEPT_WAIT:
		ns = c->ph[PH_ACCEPT_WAIT];
		break;
	case SP_FIN_WAIT1:
	case SP_FIN_WAIT2:
	case SP_CLOSE_WAIT:
	case SP_LAST_ACK:
	case SP_CLOSING:
	case SP_TIME_WAIT:
		ns = c->ph[PH_FIN_WAIT1 + (p - SP_FIN_WAIT1)];
		if (c->tw_end == TWE_IN_PROGRESS && (int)p == cut_phase(c))
			return -1;
		break;
	default:
		return -1;
	}
	return ns < 0 ? -1 : ns;
}

static const char *const by_names[BY_MAX] = {
	"", "remote", "lport", "rport", "comm", "netns", "cgroup", "workload",
};

int summary_by_parse(const char *s, enum summary_by *by)
{
	if (!s)
		return -1;
	for (int i = BY_NONE + 1; i < BY_MAX; i++) {
		if (!strcmp(s, by_names[i])) {
			*by = i;
			return 0;
		}
	}
	return -1;
}

static const char *by_name(enum summary_by by)
{
	return (unsigned int)by < BY_MAX ? by_names[by] : "";
}

/* --- histograms --- */

static int hb_index(uint64_t us)
{
	int msb;

	if (us < HB_SUB)
		return (int)us;
	msb = 63 - __builtin_clzll(us);
	if (msb >= HB_LOG_MAX)
		return HB_N - 1;
	return HB_SUB + (msb - HB_SUB_BITS) * HB_SUB + (int)(us >> (msb - HB_SUB_BITS)) - HB_SUB;
}

/* Bucket i covers [lo, lo + width) us. */
static void hb_bounds(int i, uint64_t *lo, uint64_t *width)
{
	int k, sub;

	if (i < HB_SUB) {
		*lo = i;
		*width = 1;
		return;
	}
	k = (i - HB_SUB) / HB_SUB; /* the power of two is k + HB_SUB_BITS */
	sub = (i - HB_SUB) % HB_SUB;
	*width = 1ULL << k;
	*lo = (uint64_t)(HB_SUB + sub) << k;
}

static void phist_init(struct phist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = -1;
	h->max_ns = -1;
}

static void phist_add(struct phist *h, int64_t ns)
{
	uint32_t *b = &h->b[hb_index((uint64_t)ns / 1000)];

	if (*b < UINT32_MAX)
		(*b)++;
	if (!h->count || ns < h->min_ns)
		h->min_ns = ns;
	if (!h->count || ns > h->max_ns)
		h->max_ns = ns;
	h->count++;
}

/* Nearest-rank percentile of per-mille pm in ns; -1 for an empty histogram. */
static int64_t phist_pct(const struct phist *h, int pm)
{
	uint64_t total = 0, rank, cum = 0, lo, width;
	int64_t ns;
	int i;

	for (i = 0; i < HB_N; i++)
		total += h->b[i];
	if (!total)
		return -1;
	rank = (total * pm + 999) / 1000;
	if (!rank)
		rank = 1;
	for (i = 0; i < HB_N; i++) {
		cum += h->b[i];
		if (cum >= rank)
			break;
	}
	if (i >= HB_N - 1)
		return h->max_ns;
	hb_bounds(i, &lo, &width);
	ns = (int64_t)(lo * 1000 + width * 500);
	if (ns < h->min_ns)
		ns = h->min_ns;
	if (ns > h->max_ns)
		ns = h->max_ns;
	return ns;
}

static void phist_stats(const struct phist *h, struct sum_stats *st)
{
	st->count = h ? h->count : 0;
	if (!st->count) {
		st->p50_ns = st->p90_ns = st->p99_ns = st->max_ns = -1;
		return;
	}
	st->p50_ns = phist_pct(h, 500);
	st->p90_ns = phist_pct(h, 900);
	st->p99_ns = phist_pct(h, 990);
	st->max_ns = h->max_ns;
}

void summary_stats(const struct summary *s, enum sum_phase p, struct sum_stats *st)
{
	phist_stats((unsigned int)p < SP_MAX ? &s->total[p] : NULL, st);
}

/* --- groups --- */

static uint64_t fnv1a(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* c's cgroup id if the table can name it, else 0: one "-" group. */
static uint64_t known_cgroup(const struct summary *s, const struct conn *c)
{
	char buf[24];

	return cg_shown(s->cg, c->cgroup, buf, sizeof(buf)) ? c->cgroup : 0;
}

/* c's key into key; for BY_WORKLOAD its name into *name (NULL: none). */
static void group_key(const struct summary *s, const struct conn *c, uint8_t *key,
		      const char **name)
{
	uint64_t v;

	memset(key, 0, GKEY_LEN);
	*name = NULL;
	switch (s->by) {
	case BY_REMOTE:
		key[0] = c->family;
		memcpy(key + 1, c->raddr, c->family == AF_INET6 ? 16 : 4);
		break;
	case BY_LPORT:
		memcpy(key, &c->lport, sizeof(c->lport));
		break;
	case BY_RPORT:
		memcpy(key, &c->rport, sizeof(c->rport));
		break;
	case BY_COMM:
		/* no owner known: one "-" group rather than whatever comm was left */
		if (c->pid)
			memcpy(key, c->comm, strnlen(c->comm, sizeof(c->comm) - 1));
		break;
	case BY_NETNS:
		memcpy(key, &c->netns, sizeof(c->netns));
		break;
	case BY_CGROUP:
		v = known_cgroup(s, c);
		memcpy(key, &v, sizeof(v));
		break;
	case BY_WORKLOAD:
		*name = s->cg ? cg_workload(s->cg, c->cgroup) : NULL;
		v = *name ? fnv1a(*name, strlen(*name)) : 0;
		key[0] = *name != NULL;
		memcpy(key + 1, &v, sizeof(v));
		break;
	default:
		break;
	}
}

static uint32_t key_hash(const uint8_t *key)
{
	uint64_t h = fnv1a(key, GKEY_LEN);

	return (uint32_t)(h ^ (h >> 32));
}

static struct group *group_new(const uint8_t *key, const char *name, bool other)
{
	struct group *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	if (key)
		memcpy(g->key, key, GKEY_LEN);
	if (name) {
		g->name = strdup(name);
		if (!g->name) {
			free(g);
			return NULL;
		}
	}
	g->other = other;
	return g;
}

static bool same_name(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The group of c: found, made, or "other" once the bound is reached; NULL if out of memory. */
static struct group *group_of(struct summary *s, const struct conn *c)
{
	uint8_t key[GKEY_LEN];
	const char *name;
	uint32_t i;

	group_key(s, c, key, &name);
	for (i = key_hash(key) & (GSLOTS - 1); s->slots[i]; i = (i + 1) & (GSLOTS - 1))
		if (!memcmp(s->slots[i]->key, key, GKEY_LEN) && same_name(s->slots[i]->name, name))
			return s->slots[i];
	if (s->n_groups < SUMMARY_MAX_GROUPS) {
		struct group *g = group_new(key, name, false);

		if (g) {
			s->slots[i] = g;
			s->groups[s->n_groups++] = g;
			return g;
		}
	}
	if (!s->other)
		s->other = group_new(NULL, NULL, true);
	return s->other;
}

static void group_free(struct group *g)
{
	if (!g)
		return;
	for (int p = 0; p < SP_MAX; p++)
		free(g->ph[p]);
	free(g->name);
	free(g);
}

/* The part of a record (enum phase bit) that summary phase p times. */
static unsigned int part_of(enum sum_phase p)
{
	switch (p) {
	case SP_HS_ACTIVE:
	case SP_HS_PASSIVE:
		return CT_PART(PH_HANDSHAKE);
	case SP_ACCEPT_WAIT:
		return CT_PART(PH_ACCEPT_WAIT);
	default:
		return CT_PART(PH_FIN_WAIT1 + (p - SP_FIN_WAIT1));
	}
}

int64_t summary_part_ns(const struct conn *c, enum sum_phase p, unsigned int parts)
{
	return parts & part_of(p) ? summary_phase_ns(c, p) : -1;
}

static void group_add(struct group *g, const struct conn *c, unsigned int parts)
{
	if (parts & CT_PART(CT_PART_RECORD))
		g->conns++;
	for (int p = 0; p < SP_MAX; p++) {
		int64_t ns = summary_part_ns(c, p, parts);

		if (ns < 0)
			continue;
		if (!g->ph[p]) {
			g->ph[p] = malloc(sizeof(*g->ph[p]));
			if (!g->ph[p])
				continue;
			phist_init(g->ph[p]);
		}
		phist_add(g->ph[p], ns);
	}
}

/* --- the summary --- */

struct summary *summary_new(enum summary_by by, int top_n)
{
	struct summary *s;

	if ((unsigned int)by >= BY_MAX)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->by = by;
	s->top_n = top_n;
	if (by != BY_NONE) {
		s->slots = calloc(GSLOTS, sizeof(*s->slots));
		if (!s->slots) {
			free(s);
			return NULL;
		}
	}
	summary_reset(s);
	return s;
}

void summary_set_cgroups(struct summary *s, struct cgroups *cg)
{
	s->cg = cg;
}

void summary_add_parts(struct summary *s, const struct conn *c, unsigned int parts)
{
	struct group *g;

	if (parts & CT_PART(CT_PART_RECORD)) {
		s->conns++;
		if (c->partial)
			s->partial++;
	}
	if (parts & CT_PART(CT_PART_RESULT))
		s->results[summary_result_of(c)]++;
	if (parts & CT_PART(CT_PART_TW_END))
		s->tw_ends[c->tw_end <= TWE_IN_PROGRESS && c->tw_end != TWE_NONE_YET ? c->tw_end :
										       TWE_NONE]++;
	for (int p = 0; p < SP_MAX; p++) {
		int64_t ns = summary_part_ns(c, p, parts);

		if (ns >= 0)
			phist_add(&s->total[p], ns);
	}
	if (s->by == BY_NONE)
		return;
	g = group_of(s, c);
	if (g)
		group_add(g, c, parts);
}

void summary_add(struct summary *s, const struct conn *c)
{
	summary_add_parts(s, c, ~0U);
}

void summary_reset(struct summary *s)
{
	for (int i = 0; i < s->n_groups; i++)
		group_free(s->groups[i]);
	group_free(s->other);
	s->other = NULL;
	s->n_groups = 0;
	if (s->slots)
		memset(s->slots, 0, GSLOTS * sizeof(*s->slots));
	s->conns = 0;
	s->partial = 0;
	memset(s->results, 0, sizeof(s->results));
	memset(s->tw_ends, 0, sizeof(s->tw_ends));
	for (int p = 0; p < SP_MAX; p++)
		phist_init(&s->total[p]);
	memset(&s->resets, 0, sizeof(s->resets));
}

void summary_add_reset(struct summary *s, const struct event *e)
{
	rst_counts_add(&s->resets, e);
}

const struct rst_counts *summary_resets(const struct summary *s)
{
	return &s->resets;
}

void summary_free(struct summary *s)
{
	if (!s)
		return;
	summary_reset(s);
	free(s->slots);
	free(s);
}

/* --- printing --- */

#define ROW_FMT "%-19.19s %7s %11s %11s %11s %11s\n"

static const char *ms(char *buf, size_t len, int64_t ns)
{
	return format_ms(buf, len, ns < 0 ? -1 : ns / 1000);
}

static void print_row(FILE *f, const char *name, const struct sum_stats *st)
{
	char n[24], p50[24], p90[24], p99[24], max[24];

	snprintf(n, sizeof(n), "%llu", (unsigned long long)st->count);
	fprintf(f, ROW_FMT, name, n, ms(p50, sizeof(p50), st->p50_ns),
		ms(p90, sizeof(p90), st->p90_ns), ms(p99, sizeof(p99), st->p99_ns),
		ms(max, sizeof(max), st->max_ns));
}

static void print_header(FILE *f)
{
	fprintf(f, ROW_FMT, "PHASE", "COUNT", "P50_MS", "P90_MS", "P99_MS", "MAX_MS");
}

/* "title  name N  name N ...", wrapped before column 80 under the first name. */
static void print_counts(FILE *f, const char *title, const char *const *names, const uint64_t *v,
			 int n)
{
	const int indent = 12;
	int col;

	col = fprintf(f, "%-*s", indent, title);
	for (int i = 0; i < n; i++) {
		char item[64];
		int len =
			snprintf(item, sizeof(item), "%s %llu", names[i], (unsigned long long)v[i]);

		if (col > indent && col + 2 + len > 79) {
			col = fprintf(f, "\n%-*s", indent, "") - 1;
		} else if (col > indent) {
			fputs("  ", f);
			col += 2;
		}
		fputs(item, f);
		col += len;
	}
	fputc('\n', f);
}

static void print_stars(FILE *f, uint64_t val, uint64_t vmax, int width)
{
	int stars = (int)(val * width / vmax);

	for (int i = 0; i < width; i++)
		fputc(i < stars ? '*' : ' ', f);
}

_Static_assert(SUM_LOG2_SLOTS == HB_LOG_MAX, "one log2 slot per power of two");

void summary_log2(const struct summary *s, enum sum_phase p, uint64_t slot[SUM_LOG2_SLOTS])
{
	const struct phist *h = &s->total[(unsigned int)p < SP_MAX ? p : 0];
	uint64_t lo, width;

	memset(slot, 0, SUM_LOG2_SLOTS * sizeof(*slot));
	if ((unsigned int)p >= SP_MAX)
		return;
	for (int i = 0; i < HB_N; i++) {
		if (!h->b[i])
			continue;
		hb_bounds(i, &lo, &width);
		slot[lo ? 63 - __builtin_clzll(lo) : 0] += h->b[i];
	}
}

/* bcc's print_log2_hist, from the first to the last non-empty power of two. */
static void print_log2(FILE *f, const struct summary *s, enum sum_phase p)
{
	uint64_t slot[HB_LOG_MAX], vmax = 0;
	int first = -1, last = -1, w, stars;
	char top[24];

	summary_log2(s, p, slot);
	for (int k = 0; k < HB_LOG_MAX; k++) {
		if (!slot[k])
			continue;
		if (first < 0)
			first = k;
		last = k;
		if (slot[k] > vmax)
			vmax = slot[k];
	}
	if (first < 0)
		return;
	w = snprintf(top, sizeof(top), "%llu", (2ULL << last) - 1);
	if (w < 10)
		w = 10;
	/* "%*llu -> %-*llu : %-8llu |" is 2w + 17 wide, then the stars and '|' */
	stars = 79 - (2 * w + 17) - 1;
	if (stars > 40)
		stars = 40;
	fprintf(f, "%*s%-*s : count    distribution\n", w - 5, "", w + 9, "usecs");
	for (int k = first; k <= last; k++) {
		fprintf(f, "%*llu -> %-*llu : %-8llu |", w, k ? 1ULL << k : 0ULL, w,
			(2ULL << k) - 1, (unsigned long long)slot[k]);
		print_stars(f, slot[k], vmax, stars);
		fputs("|\n", f);
	}
}

struct ranked {
	const struct group *g;
	int64_t worst; /* worst p99 of any phase, ns; -1 if no phase timed */
	char label[SUM_LABEL_LEN];
};

static void group_label(const struct summary *s, const struct group *g, char *buf, size_t len)
{
	char idbuf[24];
	const char *cgp;
	uint16_t port;
	uint64_t id;
	uint32_t ns;

	if (g->other) {
		snprintf(buf, len, "other");
		return;
	}
	switch (s->by) {
	case BY_REMOTE:
		format_addr(buf, len, g->key[0], g->key + 1);
		break;
	case BY_LPORT:
	case BY_RPORT:
		memcpy(&port, g->key, sizeof(port));
		snprintf(buf, len, "%u", port);
		break;
	case BY_COMM:
		snprintf(buf, len, "%.*s", (int)TASK_COMM_LEN,
			 g->key[0] ? (const char *)g->key : "-");
		break;
	case BY_NETNS:
		memcpy(&ns, g->key, sizeof(ns));
		snprintf(buf, len, "%u", ns);
		break;
	case BY_CGROUP:
		memcpy(&id, g->key, sizeof(id));
		cgp = cg_shown(s->cg, id, idbuf, sizeof(idbuf));
		snprintf(buf, len, "%s", cgp ? cgp : "-");
		break;
	case BY_WORKLOAD:
		snprintf(buf, len, "%s", g->name ? g->name : "-");
		break;
	default:
		snprintf(buf, len, "?");
		break;
	}
}

static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->worst != y->worst)
		return x->worst > y->worst ? -1 : 1;
	if (x->g->conns != y->g->conns)
		return x->g->conns > y->g->conns ? -1 : 1;
	if (x->g->other != y->g->other)
		return x->g->other ? 1 : -1;
	return strcmp(x->label, y->label);
}

const char *summary_by_name(const struct summary *s)
{
	return by_name(s->by);
}

void summary_counts(const struct summary *s, struct sum_counts *c)
{
	c->conns = s->conns;
	c->partial = s->partial;
	memcpy(c->results, s->results, sizeof(c->results));
	memcpy(c->tw_ends, s->tw_ends, sizeof(c->tw_ends));
}

int summary_groups(const struct summary *s, struct sum_group **out, int *total)
{
	int n = s->n_groups + (s->other ? 1 : 0), shown;
	struct ranked *r;
	struct sum_group *g;

	*out = NULL;
	*total = n;
	if (!n)
		return 0;
	r = calloc(n, sizeof(*r));
	if (!r)
		return -1;
	for (int i = 0; i < n; i++) {
		r[i].g = i < s->n_groups ? s->groups[i] : s->other;
		r[i].worst = -1;
		for (int p = 0; p < SP_MAX; p++) {
			int64_t p99 = r[i].g->ph[p] ? phist_pct(r[i].g->ph[p], 990) : -1;

			if (p99 > r[i].worst)
				r[i].worst = p99;
		}
		group_label(s, r[i].g, r[i].label, sizeof(r[i].label));
	}
	qsort(r, n, sizeof(*r), cmp_ranked);
	shown = s->top_n > 0 && s->top_n < n ? s->top_n : n;
	g = calloc(shown, sizeof(*g));
	if (!g) {
		free(r);
		return -1;
	}
	for (int i = 0; i < shown; i++) {
		snprintf(g[i].label, sizeof(g[i].label), "%s", r[i].label);
		g[i].other = r[i].g->other;
		g[i].conns = r[i].g->conns;
		for (int p = 0; p < SP_MAX; p++)
			phist_stats(r[i].g->ph[p], &g[i].st[p]);
	}
	free(r);
	*out = g;
	return shown;
}

static void print_groups(const struct summary *s, FILE *f)
{
	struct sum_group *g;
	int n, shown = summary_groups(s, &g, &n);

	if (shown < 0) {
		fprintf(f, "\nby %s: out of memory\n", by_name(s->by));
		return;
	}
	if (!n)
		return;
	fprintf(f, "\nby %s: %d of %d groups, worst p99 first\n", by_name(s->by), shown, n);
	print_header(f);
	for (int i = 0; i < shown; i++) {
		fprintf(f, "%s %s: %llu connections%s\n", by_name(s->by), g[i].label,
			(unsigned long long)g[i].conns,
			g[i].other ? " (keys beyond the group bound)" : "");
		for (int p = 0; p < SP_MAX; p++) {
			char name[24];

			if (!g[i].st[p].count)
				continue;
			snprintf(name, sizeof(name), "  %s", phase_names[p]);
			print_row(f, name, &g[i].st[p]);
		}
	}
	if (shown < n)
		fprintf(f, "(%d more groups not shown)\n", n - shown);
	free(g);
}

void summary_print(const struct summary *s, FILE *f, double interval_s)
{
	const char *tw_names[TWE_IN_PROGRESS];
	uint64_t tw[TWE_IN_PROGRESS];

	fprintf(f, "tcpphase summary");
	if (interval_s > 0)
		fprintf(f, " over %.1f s", interval_s);
	fprintf(f, ": %llu connections, %llu partial\n", (unsigned long long)s->conns,
		(unsigned long long)s->partial);
	print_counts(f, "results", result_names, s->results, SR_MAX);
	for (int e = TWE_EXPIRED; e <= TWE_IN_PROGRESS; e++) {
		tw_names[e - TWE_EXPIRED] = tw_end_name(e);
		tw[e - TWE_EXPIRED] = s->tw_ends[e];
	}
	print_counts(f, "tw_end", tw_names, tw, TWE_IN_PROGRESS);
	rst_counts_print(&s->resets, f);
	fputc('\n', f);
	print_header(f);
	for (int p = 0; p < SP_MAX; p++) {
		struct sum_stats st;

		phist_stats(&s->total[p], &st);
		print_row(f, phase_names[p], &st);
	}
	for (int p = 0; p < SP_MAX; p++) {
		if (!s->total[p].count)
			continue;
		fprintf(f, "\n%s:\n", phase_names[p]);
		print_log2(f, s, p);
	}
	if (s->by != BY_NONE)
		print_groups(s, f);
}
