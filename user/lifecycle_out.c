// SPDX-License-Identifier: GPL-2.0
/*
 * lifecycle_out.c - the default sink: one record per TCP endpoint with each
 * phase timed, as an 80-column table, a wide table (-w), CSV (--csv) or
 * JSON lines (--json) with the CSV columns as keys.
 *
 * CSV and JSON get one row per endpoint when it is complete (REC_FINAL);
 * with --open also one (row "open") when its handshake ends. The table
 * also shows the close as it happens (REC_CLOSED) and then, once known, how
 * the endpoint's TIME_WAIT ended.
 */
#include <string.h>
#include <sys/socket.h>

#include "format.h"
#include "row.h"
#include "rstreason.h"
#include "sink.h"

/* the columns, in order: one list for the enum and the names */
/* clang-format off */
#define LC_COLUMNS(C) \
	C(start_time) C(end_time) C(pid) C(comm) C(netns) C(family) \
	C(role) C(laddr) C(lport) C(raddr) C(rport) C(result) \
	C(handshake_us) C(syn_retrans) C(accept_wait_us) C(established_us) C(closer) C(fin_wait1_us) \
	C(fin_wait2_us) C(close_wait_us) C(last_ack_us) C(closing_us) C(time_wait_us) C(tw_end) \
	C(tx_bytes) C(rx_bytes) C(retrans) C(srtt_us) C(partial) \
	C(cgroup) C(workload) \
	C(rst) C(rst_reason)
/* clang-format on */

enum { LC_COLUMNS(COL_ENUM) LC_NCOLS };
static const char *const lc_names[] = { LC_COLUMNS(COL_NAME) };
const struct columns lifecycle_cols = { lc_names, LC_NCOLS };
_Static_assert(LC_NCOLS <= ROW_MAX_COLS, "a row holds every column");

static void lc_header(struct out *o)
{
	if (o->json)
		return;
	if (o->csv)
		row_csv_header_tagged(&lifecycle_cols, o->open ? "row" : NULL, o->f);
	else if (o->wide)
		fprintf(o->f,
			"%-12s %-7s %-15s %-10s %-7s %-28s %-28s %-11s %9s %3s %9s %11s %-12s "
			"%9s %9s %9s %9s %9s %10s %-11s %-24s %s\n",
			"TIME", "PID", "COMM", "NETNS", "ROLE", "LADDR:LPORT", "RADDR:RPORT",
			"RESULT", "HS_MS", "RTX", "ACCEPT_MS", "EST_MS", "CLOSER", "FW1_MS",
			"FW2_MS", "CW_MS", "LA_MS", "CLOSING_MS", "TW_MS", "TW_END", "WORKLOAD",
			"CGROUP");
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

/* Text a row borrows until it is written. */
struct lc_text {
	char t0[TIME_STRLEN], t1[TIME_STRLEN], la[ADDR_STRLEN], ra[ADDR_STRLEN], res[32], cg[24];
	char rr[RST_REASON_STRLEN];
};

/*
 * The columns an endpoint has from its handshake on, in the full row and
 * the --open row alike: when and who, the tuple, the handshake, its cgroup.
 */
static void lc_known(struct out *o, const struct conn *c, struct row *r, struct lc_text *x)
{
	row_text(r, COL_start_time,
		 format_rfc3339(x->t0, sizeof(x->t0), c->t_start + o->wall_offset_ns));
	if (c->pid) {
		row_u64(r, COL_pid, c->pid);
		row_str(r, COL_comm, c->comm);
	}
	row_u64(r, COL_netns, c->netns);
	row_text(r, COL_family, c->family == AF_INET6 ? "ipv6" : "ipv4");
	row_text(r, COL_role, role_name(c->role));
	row_text(r, COL_laddr, format_addr(x->la, sizeof(x->la), c->family, c->laddr));
	row_u64(r, COL_lport, c->lport);
	row_text(r, COL_raddr, format_addr(x->ra, sizeof(x->ra), c->family, c->raddr));
	row_u64(r, COL_rport, c->rport);
	row_text(r, COL_result, hs_result(c, x->res, sizeof(x->res)));
	row_us(r, COL_handshake_us, c->ph[PH_HANDSHAKE]);
	row_u64(r, COL_partial, c->partial);
	row_str(r, COL_cgroup, cg_shown(o->cg, c->cgroup, x->cg, sizeof(x->cg)));
	row_str(r, COL_workload, o->cg ? cg_workload(o->cg, c->cgroup) : NULL);
}

/* One CSV row or JSON object, written without printf: this runs for every endpoint. */
static void lc_row(struct out *o, const struct conn *c)
{
	struct lc_text x;
	struct row r;

	row_init(&r, &lifecycle_cols);
	lc_known(o, c, &r, &x);
	row_text(&r, COL_end_time,
		 format_rfc3339(x.t1, sizeof(x.t1), c->t_end + o->wall_offset_ns));
	if (c->result != RES_NONE || c->hs_kind != HS_NORMAL)
		row_u64(&r, COL_syn_retrans, c->syn_retrans);
	row_us(&r, COL_accept_wait_us, c->ph[PH_ACCEPT_WAIT]);
	row_us(&r, COL_established_us, c->ph[PH_ESTABLISHED]);
	row_text(&r, COL_closer, closer_name(c->closer));
	for (int ph = PH_FIN_WAIT1; ph <= PH_TIME_WAIT; ph++)
		row_us(&r, COL_fin_wait1_us + (ph - PH_FIN_WAIT1), c->ph[ph]);
	row_text(&r, COL_tw_end, tw_end_name(c->tw_end));
	row_u64(&r, COL_tx_bytes, c->tx_bytes);
	row_u64(&r, COL_rx_bytes, c->rx_bytes);
	row_u64(&r, COL_retrans, c->retrans);
	row_u64(&r, COL_srtt_us, c->srtt_us);
	if (c->rst) {
		row_text(&r, COL_rst, rst_dir_name(c->rst));
		row_text(&r, COL_rst_reason, rst_reason_name(c->rst_reason, x.rr, sizeof(x.rr)));
	}
	if (o->open)
		row_tag(&r, "row", "end");
	row_write(&r, o->f, o->json);
}

/*
 * --open: the endpoint as its handshake ends, ok or failed (row "open"):
 * what is known by then; end_time is the handshake's end. Its full row
 * ("end") follows when the endpoint is complete.
 */
static void lc_open_row(struct out *o, const struct conn *c)
{
	int64_t hs = c->ph[PH_HANDSHAKE];
	struct lc_text x;
	struct row r;

	row_init(&r, &lifecycle_cols);
	row_tag(&r, "row", "open");
	lc_known(o, c, &r, &x);
	if (hs >= 0)
		row_text(&r, COL_end_time,
			 format_rfc3339(x.t1, sizeof(x.t1), c->t_start + hs + o->wall_offset_ns));
	row_u64(&r, COL_syn_retrans, c->syn_retrans);
	row_write(&r, o->f, o->json);
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

/* " rst sent REASON" when a reset ended the endpoint, else "". */
static const char *rst_text(const struct conn *c, char *buf, size_t len)
{
	char rr[RST_REASON_STRLEN];
	const char *reason = rst_reason_name(c->rst_reason, rr, sizeof(rr));

	if (!c->rst)
		return "";
	snprintf(buf, len, " rst %s%s%s", rst_dir_name(c->rst), *reason ? " " : "", reason);
	return buf;
}

static void lc_table(struct out *o, const struct conn *c, enum rec_kind kind)
{
	char ra[ADDRPORT_STRLEN], la[ADDRPORT_STRLEN], res[32], hs[32], cl[32], pid[16];
	char rst[RST_REASON_STRLEN + 16];
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
		fprintf(o->f, "%-7s %-9.9s %-1s %-21s %5u %-8.8s %9s %-6.6s %9s%s%s\n",
			c->pid ? pid : "-", c->pid ? c->comm : "-", r, ra, c->lport,
			hs_result(c, res, sizeof(res)), hs, closer_name(c->closer), cl,
			rst_text(c, rst, sizeof(rst)), c->partial ? " partial" : "");
		return;
	}
	char ts[TIME_STRLEN], f[8][32], cgbuf[24];
	const char *wl = o->cg ? cg_workload(o->cg, c->cgroup) : NULL;
	const char *cgp = cg_shown(o->cg, c->cgroup, cgbuf, sizeof(cgbuf));
	static const int cols[] = { PH_HANDSHAKE, PH_ACCEPT_WAIT, PH_ESTABLISHED, PH_FIN_WAIT1,
				    PH_FIN_WAIT2, PH_CLOSE_WAIT,  PH_LAST_ACK,	  PH_CLOSING };

	format_clock(ts, sizeof(ts), c->t_end + o->wall_offset_ns);
	format_addr_port(la, sizeof(la), c->family, c->laddr, c->lport);
	for (int i = 0; i < 8; i++)
		format_ms(f[i], sizeof(f[i]), us(c->ph[cols[i]]));
	format_ms(cl, sizeof(cl), us(c->ph[PH_TIME_WAIT]));
	fprintf(o->f,
		"%-12s %-7s %-15s %-10u %-7s %-28s %-28s %-11s %9s %3u %9s %11s %-12s %9s %9s "
		"%9s %9s %9s %10s %-11s %-24s %s%s%s\n",
		ts, c->pid ? pid : "-", c->pid ? c->comm : "-", c->netns, role_name(c->role), la,
		ra, hs_result(c, res, sizeof(res)), f[0], c->syn_retrans, f[1], f[2],
		closer_name(c->closer), f[3], f[4], f[5], f[6], f[7],
		kind == REC_CLOSED ? "..." : cl, kind == REC_CLOSED ? "" : tw_end_name(c->tw_end),
		wl ? wl : "-", cgp ? cgp : "-", rst_text(c, rst, sizeof(rst)),
		c->partial ? " partial" : "");
}

/* --open: a line or row as the endpoint's handshake ends. */
static void lc_opened(struct out *o, const struct conn *c)
{
	char ra[ADDRPORT_STRLEN], la[ADDRPORT_STRLEN], res[32], hs[32], pid[16], ts[TIME_STRLEN];

	if (o->csv || o->json) {
		lc_open_row(o, c);
		return;
	}
	format_addr_port(ra, sizeof(ra), c->family, c->raddr, c->rport);
	format_ms(hs, sizeof(hs), us(c->ph[PH_HANDSHAKE]));
	snprintf(pid, sizeof(pid), "%u", c->pid);
	if (!o->wide) {
		const char *r = c->role == ROLE_ACTIVE ? "A" : c->role == ROLE_PASSIVE ? "P" : "?";

		fprintf(o->f, "%-7s %-9.9s %-1s %-21s %5u %-8.8s %9s %-6.6s\n", c->pid ? pid : "-",
			c->pid ? c->comm : "-", r, ra, c->lport, hs_result(c, res, sizeof(res)), hs,
			"open");
		return;
	}
	format_clock(ts, sizeof(ts),
		     c->t_start + (c->ph[PH_HANDSHAKE] > 0 ? c->ph[PH_HANDSHAKE] : 0) +
			     o->wall_offset_ns);
	format_addr_port(la, sizeof(la), c->family, c->laddr, c->lport);
	fprintf(o->f, "%-12s %-7s %-15s %-10u %-7s %-28s %-28s %-11s %9s %3u %9s %11s %-12s\n", ts,
		c->pid ? pid : "-", c->pid ? c->comm : "-", c->netns, role_name(c->role), la, ra,
		hs_result(c, res, sizeof(res)), hs, c->syn_retrans, "", "", "open");
}

static void lc_record(struct out *o, const struct conn *c, enum rec_kind kind)
{
	if (o->csv || o->json) {
		if (kind == REC_FINAL)
			lc_row(o, c);
		return;
	}
	lc_table(o, c, kind);
}

const struct sink lifecycle_sink = {
	.header = lc_header,
	.record = lc_record,
	.opened = lc_opened,
};
