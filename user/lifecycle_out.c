// SPDX-License-Identifier: GPL-2.0
/*
 * lifecycle_out.c - the default sink: one record per TCP endpoint with each
 * phase timed, as an 80-column table, a wide table (-w) or CSV (--csv).
 *
 * CSV gets one row per endpoint when it is complete (REC_FINAL). The table
 * also shows the close as it happens (REC_CLOSED) and then, once known, how
 * the endpoint's TIME_WAIT ended.
 */
#include <string.h>
#include <sys/socket.h>

#include "format.h"
#include "sink.h"

static const char csv_columns[] =
	"start_time,end_time,pid,comm,netns,family,role,laddr,lport,raddr,rport,result,"
	"handshake_us,syn_retrans,accept_wait_us,established_us,closer,fin_wait1_us,"
	"fin_wait2_us,close_wait_us,last_ack_us,closing_us,time_wait_us,tw_end,tx_bytes,"
	"rx_bytes,retrans,srtt_us,partial\n";

static void lc_header(struct out *o)
{
	if (o->csv)
		fputs(csv_columns, o->f);
	else if (o->wide)
		fprintf(o->f,
			"%-12s %-7s %-15s %-10s %-7s %-28s %-28s %-11s %9s %3s %9s %11s %-12s "
			"%9s %9s %9s %9s %9s %10s %-11s\n",
			"TIME", "PID", "COMM", "NETNS", "ROLE", "LADDR:LPORT", "RADDR:RPORT",
			"RESULT", "HS_MS", "RTX", "ACCEPT_MS", "EST_MS", "CLOSER", "FW1_MS",
			"FW2_MS", "CW_MS", "LA_MS", "CLOSING_MS", "TW_MS", "TW_END");
	else
		fprintf(o->f, "%-7s %-9s %-1s %-21s %5s %-8s %9s %-6s %9s\n", "PID", "COMM", "R",
			"RADDR:RPORT", "LPORT", "RESULT", "HS_MS", "CLOSER", "CLOSE_MS");
}

static int64_t us(int64_t ns)
{
	return ns < 0 ? -1 : ns / 1000;
}

static const char *hs_result(const struct conn *c, char *buf, int len)
{
	if (c->hs_kind == HS_SYNCOOKIE)
		return "syncookie";
	if (c->hs_kind == HS_FASTOPEN)
		return "fastopen";
	return result_name(c, buf, len);
}

/* One CSV row, written without printf: this runs for every endpoint. */
static void lc_csv(struct out *o, const struct conn *c)
{
	char line[1024], t[TIME_STRLEN], a[ADDR_STRLEN], res[32];
	struct strbuf b = { .buf = line, .cap = sizeof(line) };

	sb_str(&b, format_rfc3339(t, sizeof(t), c->t_start + o->wall_offset_ns));
	sb_char(&b, ',');
	sb_str(&b, format_rfc3339(t, sizeof(t), c->t_end + o->wall_offset_ns));
	sb_char(&b, ',');
	if (c->pid) {
		sb_u64(&b, c->pid);
		sb_char(&b, ',');
		sb_csv(&b, c->comm);
	} else {
		sb_char(&b, ',');
	}
	sb_char(&b, ',');
	sb_u64(&b, c->netns);
	sb_str(&b, c->family == AF_INET6 ? ",ipv6," : ",ipv4,");
	sb_str(&b, role_name(c->role));
	sb_char(&b, ',');
	sb_str(&b, format_addr(a, sizeof(a), c->family, c->laddr));
	sb_char(&b, ',');
	sb_u64(&b, c->lport);
	sb_char(&b, ',');
	sb_str(&b, format_addr(a, sizeof(a), c->family, c->raddr));
	sb_char(&b, ',');
	sb_u64(&b, c->rport);
	sb_char(&b, ',');
	sb_str(&b, hs_result(c, res, sizeof(res)));
	sb_char(&b, ',');
	sb_us(&b, c->ph[PH_HANDSHAKE]);
	sb_char(&b, ',');
	if (c->result != RES_NONE || c->hs_kind != HS_NORMAL)
		sb_u64(&b, c->syn_retrans);
	sb_char(&b, ',');
	sb_us(&b, c->ph[PH_ACCEPT_WAIT]);
	sb_char(&b, ',');
	sb_us(&b, c->ph[PH_ESTABLISHED]);
	sb_char(&b, ',');
	sb_str(&b, closer_name(c->closer));
	for (int ph = PH_FIN_WAIT1; ph <= PH_TIME_WAIT; ph++) {
		sb_char(&b, ',');
		sb_us(&b, c->ph[ph]);
	}
	sb_char(&b, ',');
	sb_str(&b, tw_end_name(c->tw_end));
	sb_char(&b, ',');
	sb_u64(&b, c->tx_bytes);
	sb_char(&b, ',');
	sb_u64(&b, c->rx_bytes);
	sb_char(&b, ',');
	sb_u64(&b, c->retrans);
	sb_char(&b, ',');
	sb_u64(&b, c->srtt_us);
	sb_str(&b, c->partial ? ",1\n" : ",0\n");
	fwrite(b.buf, 1, b.len, o->f);
}

/* Time from the start of the close to the socket's end: the half-close phases. */
static int64_t close_ns(const struct conn *c)
{
	int64_t sum = -1;

	for (int ph = PH_FIN_WAIT1; ph <= PH_CLOSING; ph++)
		if (c->ph[ph] >= 0)
			sum = (sum < 0 ? 0 : sum) + c->ph[ph];
	return sum;
}

static void lc_table(struct out *o, const struct conn *c, enum rec_kind kind)
{
	char ra[ADDRPORT_STRLEN], la[ADDRPORT_STRLEN], res[32], hs[32], cl[32], pid[16];
	bool tw_line = kind == REC_FINAL && c->emitted_closed;

	format_addr_port(ra, sizeof(ra), c->family, c->raddr, c->rport);
	snprintf(pid, sizeof(pid), "%u", c->pid);
	if (!o->wide) {
		const char *r = c->role == ROLE_ACTIVE ? "A" : c->role == ROLE_PASSIVE ? "P" : "?";

		if (tw_line) {
			format_ms(cl, sizeof(cl), us(c->ph[PH_TIME_WAIT]));
			fprintf(o->f, "%-7s %-9.9s %-1s %-21s %5u TIME_WAIT %s %s ms\n",
				c->pid ? pid : "-", c->pid ? c->comm : "-", r, ra, c->lport,
				tw_end_name(c->tw_end), cl);
			return;
		}
		format_ms(hs, sizeof(hs), us(c->ph[PH_HANDSHAKE]));
		format_ms(cl, sizeof(cl), us(close_ns(c)));
		fprintf(o->f, "%-7s %-9.9s %-1s %-21s %5u %-8.8s %9s %-6.6s %9s%s\n",
			c->pid ? pid : "-", c->pid ? c->comm : "-", r, ra, c->lport,
			hs_result(c, res, sizeof(res)), hs, closer_name(c->closer), cl,
			c->partial ? " partial" : "");
		return;
	}
	char ts[TIME_STRLEN], f[8][32];
	static const int cols[] = { PH_HANDSHAKE, PH_ACCEPT_WAIT, PH_ESTABLISHED, PH_FIN_WAIT1,
				    PH_FIN_WAIT2, PH_CLOSE_WAIT,  PH_LAST_ACK,	  PH_CLOSING };

	format_clock(ts, sizeof(ts), c->t_end + o->wall_offset_ns);
	format_addr_port(la, sizeof(la), c->family, c->laddr, c->lport);
	for (int i = 0; i < 8; i++)
		format_ms(f[i], sizeof(f[i]), us(c->ph[cols[i]]));
	format_ms(cl, sizeof(cl), us(c->ph[PH_TIME_WAIT]));
	fprintf(o->f,
		"%-12s %-7s %-15s %-10u %-7s %-28s %-28s %-11s %9s %3u %9s %11s %-12s %9s %9s "
		"%9s %9s %9s %10s %-11s%s\n",
		ts, c->pid ? pid : "-", c->pid ? c->comm : "-", c->netns, role_name(c->role), la,
		ra, hs_result(c, res, sizeof(res)), f[0], c->syn_retrans, f[1], f[2],
		closer_name(c->closer), f[3], f[4], f[5], f[6], f[7],
		kind == REC_CLOSED ? "..." : cl, kind == REC_CLOSED ? "" : tw_end_name(c->tw_end),
		c->partial ? " partial" : "");
}

static void lc_record(struct out *o, const struct conn *c, enum rec_kind kind)
{
	if (o->csv) {
		if (kind == REC_FINAL)
			lc_csv(o, c);
		return;
	}
	lc_table(o, c, kind);
}

const struct sink lifecycle_sink = {
	.header = lc_header,
	.record = lc_record,
};
