// SPDX-License-Identifier: GPL-2.0
/*
 * resetstats.c - resets by direction, reason and socket kind (resetstats.h).
 */
#include <string.h>

#include "json.h"
#include "resetstats.h"

static int slot_of(uint32_t reason)
{
	return reason < RST_REASON_NAMES ? (int)reason : RST_REASON_NAMES;
}

void rst_counts_add(struct rst_counts *rc, const struct event *e)
{
	int dir = e->newstate == RST_SENT || e->newstate == RST_RECEIVED ? e->newstate : 0;

	if (!dir)
		return;
	rc->n[dir][slot_of(e->retrans)]++;
	rc->sock[rst_sock_of(e->oldstate)][dir]++;
	rc->total++;
}

const char *rst_slot_name(int r, char *buf, size_t len)
{
	if (r >= RST_REASON_NAMES)
		return "unknown";
	return rst_reason_name((uint32_t)r, buf, len);
}

void rst_counts_print(const struct rst_counts *rc, FILE *f)
{
	char buf[RST_REASON_STRLEN];

	if (!rc->total)
		return;
	for (int dir = RST_SENT; dir <= RST_RECEIVED; dir++) {
		uint64_t sum = 0;
		int col;

		for (int r = 0; r < RST_NREASONS; r++)
			sum += rc->n[dir][r];
		col = fprintf(f, "%-11s %s %llu", dir == RST_SENT ? "resets" : "",
			      rst_dir_name(dir), (unsigned long long)sum);
		for (int r = 0; r < RST_NREASONS; r++) {
			if (!rc->n[dir][r] || (dir == RST_RECEIVED && r == RST_REASON_NAMES))
				continue;
			if (col > 60) {
				fprintf(f, "\n%-11s", "");
				col = 11;
			}
			col += fprintf(f, "  %s %llu", rst_slot_name(r, buf, sizeof(buf)),
				       (unsigned long long)rc->n[dir][r]);
		}
		fputc('\n', f);
	}
	fprintf(f, "%-11s not ours: no socket %llu  TIME_WAIT %llu  request %llu  listener %llu\n",
		"", (unsigned long long)(rc->sock[RSOCK_NONE][RST_SENT]),
		(unsigned long long)(rc->sock[RSOCK_TIME_WAIT][RST_SENT]),
		(unsigned long long)(rc->sock[RSOCK_REQUEST][RST_SENT]),
		(unsigned long long)(rc->sock[RSOCK_LISTENER][RST_SENT] +
				     rc->sock[RSOCK_LISTENER][RST_RECEIVED]));
}

void rst_counts_json(const struct rst_counts *rc, struct json *j)
{
	char buf[RST_REASON_STRLEN];

	json_open(j, "resets", '{');
	for (int dir = RST_SENT; dir <= RST_RECEIVED; dir++) {
		json_open(j, rst_dir_name(dir), '{');
		for (int r = 0; r < RST_NREASONS; r++)
			if (rc->n[dir][r])
				json_ku64(j, rst_slot_name(r, buf, sizeof(buf)), rc->n[dir][r]);
		json_close(j, '}');
	}
	json_open(j, "socket", '{');
	for (int k = 0; k < RSOCK_MAX; k++)
		json_ku64(j, rst_sock_name(k), rc->sock[k][RST_SENT] + rc->sock[k][RST_RECEIVED]);
	json_close(j, '}');
	json_close(j, '}');
}

void rst_counts_prom(const struct rst_counts *rc, FILE *f)
{
	char buf[RST_REASON_STRLEN];

	fprintf(f, "# HELP tcpphase_resets_total TCP resets sent and received, by the kernel's "
		   "reason (unknown: none given).\n# TYPE tcpphase_resets_total counter\n");
	for (int dir = RST_SENT; dir <= RST_RECEIVED; dir++)
		for (int r = 0; r < RST_NREASONS; r++)
			if (rc->n[dir][r] || r == RST_REASON_NAMES)
				fprintf(f,
					"tcpphase_resets_total{direction=\"%s\",reason=\"%s\"} %llu\n",
					rst_dir_name(dir), rst_slot_name(r, buf, sizeof(buf)),
					(unsigned long long)rc->n[dir][r]);
	fprintf(f, "# HELP tcpphase_resets_by_socket_total TCP resets by the socket they came "
		   "from (endpoint: one of the endpoints traced).\n"
		   "# TYPE tcpphase_resets_by_socket_total counter\n");
	for (int k = 0; k < RSOCK_MAX; k++)
		for (int dir = RST_SENT; dir <= RST_RECEIVED; dir++)
			fprintf(f,
				"tcpphase_resets_by_socket_total{socket=\"%s\",direction=\"%s\"} %llu\n",
				rst_sock_name(k), rst_dir_name(dir),
				(unsigned long long)rc->sock[k][dir]);
}
