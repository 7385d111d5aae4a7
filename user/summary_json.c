// SPDX-License-Identifier: GPL-2.0
/*
 * summary_json.c - the --summary as JSON (--json): one object per summary,
 * on one line, with what the text shows: the counts of results and
 * TIME_WAIT endings, per phase the count, p50/p90/p99/max in us and the
 * log2 histogram, and the --by groups ranked as in the text.
 */
#include <stdlib.h>

#include "format.h"
#include "json.h"
#include "resetstats.h"
#include "summary.h"

static void stats_members(struct json *j, const struct sum_stats *st)
{
	static const char *const keys[] = { "p50_us", "p90_us", "p99_us", "max_us" };
	const int64_t ns[] = { st->p50_ns, st->p90_ns, st->p99_ns, st->max_ns };

	json_ku64(j, "count", st->count);
	for (int i = 0; i < 4; i++) {
		if (st->count && ns[i] >= 0)
			json_ku64(j, keys[i], ns[i] / 1000);
		else
			json_knull(j, keys[i]);
	}
}

/* [{"from_us":..,"to_us":..,"count":..}], first to last non-empty power of two */
static void log2_hist(struct json *j, const struct summary *s, enum sum_phase p)
{
	uint64_t slot[SUM_LOG2_SLOTS];
	int first = -1, last = -1;

	summary_log2(s, p, slot);
	for (int k = 0; k < SUM_LOG2_SLOTS; k++) {
		if (!slot[k])
			continue;
		if (first < 0)
			first = k;
		last = k;
	}
	json_open(j, "log2_hist", '[');
	for (int k = first; first >= 0 && k <= last; k++) {
		json_open(j, NULL, '{');
		json_ku64(j, "from_us", k ? 1ULL << k : 0);
		json_ku64(j, "to_us", (2ULL << k) - 1);
		json_ku64(j, "count", slot[k]);
		json_close(j, '}');
	}
	json_close(j, ']');
}

static void groups(struct json *j, const struct summary *s)
{
	struct sum_group *g;
	int total, shown = summary_groups(s, &g, &total);

	json_ku64(j, "groups_total", total);
	json_open(j, "groups", '[');
	for (int i = 0; i < shown; i++) {
		json_open(j, NULL, '{');
		json_kstr(j, "group", g[i].label);
		json_kbool(j, "other", g[i].other);
		json_ku64(j, "connections", g[i].conns);
		json_open(j, "phases", '[');
		for (int p = 0; p < SP_MAX; p++) {
			if (!g[i].st[p].count)
				continue;
			json_open(j, NULL, '{');
			json_kstr(j, "phase", summary_phase_name(p));
			stats_members(j, &g[i].st[p]);
			json_close(j, '}');
		}
		json_close(j, ']');
		json_close(j, '}');
	}
	json_close(j, ']');
	free(g);
}

void summary_print_json(const struct summary *s, FILE *f, double interval_s, uint64_t wall_ns)
{
	char line[4096], t[TIME_STRLEN];
	struct strbuf b = { .buf = line, .cap = sizeof(line) };
	const char *by = summary_by_name(s);
	struct sum_counts c;
	struct json j;

	summary_counts(s, &c);
	json_init(&j, &b, f);
	json_open(&j, NULL, '{');
	json_kstr(&j, "time", format_rfc3339(t, sizeof(t), wall_ns));
	if (interval_s > 0)
		json_kdouble(&j, "interval_s", interval_s);
	else
		json_knull(&j, "interval_s");
	json_ku64(&j, "connections", c.conns);
	json_ku64(&j, "partial", c.partial);
	json_open(&j, "results", '{');
	for (int r = 0; r < SR_MAX; r++)
		json_ku64(&j, summary_result_name(r), c.results[r]);
	json_close(&j, '}');
	json_open(&j, "tw_end", '{');
	for (int e = TWE_EXPIRED; e <= TWE_IN_PROGRESS; e++)
		json_ku64(&j, tw_end_name(e), c.tw_ends[e]);
	json_close(&j, '}');
	rst_counts_json(summary_resets(s), &j);
	json_open(&j, "phases", '[');
	for (int p = 0; p < SP_MAX; p++) {
		struct sum_stats st;

		summary_stats(s, p, &st);
		json_open(&j, NULL, '{');
		json_kstr(&j, "phase", summary_phase_name(p));
		stats_members(&j, &st);
		log2_hist(&j, s, p);
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_kstr(&j, "by", *by ? by : NULL);
	groups(&j, s);
	json_close(&j, '}');
	json_end_line(&j);
}
