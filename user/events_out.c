// SPDX-License-Identifier: GPL-2.0
/*
 * events_out.c - the --events sink: one line per state change, as a table,
 * as CSV (time,pid,comm,netns,family,laddr,lport,raddr,rport,oldstate,
 * newstate,elapsed_us) or as JSON lines with those keys. The pid is the
 * task that made the change when it ran in a system call, else the
 * socket's owner as far as it is known.
 */
#include <string.h>
#include <sys/socket.h>

#include "format.h"
#include "row.h"
#include "sink.h"

/* the columns, in order: one list for the enum and the names */
/* clang-format off */
#define EV_COLUMNS(C) \
	C(time) C(pid) C(comm) C(netns) C(family) C(laddr) \
	C(lport) C(raddr) C(rport) C(oldstate) C(newstate) C(elapsed_us) \
	C(cgroup) C(workload)
/* clang-format on */

enum { EV_COLUMNS(COL_ENUM) EV_NCOLS };
static const char *const ev_names[] = { EV_COLUMNS(COL_NAME) };
const struct columns events_cols = { ev_names, EV_NCOLS };

static void ev_header(struct out *o)
{
	if (o->json)
		return;
	if (o->csv)
		row_csv_header(&events_cols, o->f);
	else
		fprintf(o->f, "%-12s %-7s %-12s %-10s %-21s %-21s %-11s    %-11s %9s %s\n", "TIME",
			"PID", "COMM", "NETNS", "LADDR:LPORT", "RADDR:RPORT", "OLDSTATE",
			"NEWSTATE", "MS", "WORKLOAD");
}

static void ev_transition(struct out *o, const struct event *e, const struct conn *c,
			  int64_t elapsed_ns)
{
	const char *comm = c && c->pid ? c->comm : "";
	uint32_t pid = c ? c->pid : 0;
	char ts[TIME_STRLEN], la[64], ra[64], cg[24];
	/* a tw sock has no cgroup: its socket's */
	uint64_t cgid = e->cgroup ? e->cgroup : c ? c->cgroup : 0;
	const char *wl = o->cg ? cg_workload(o->cg, cgid) : NULL;

	if (e->flags & EVF_PROC_CTX) {
		pid = e->pid;
		comm = e->comm;
	}
	if (o->csv || o->json) {
		struct row r;

		row_init(&r, &events_cols);
		row_text(&r, COL_time,
			 format_rfc3339(ts, sizeof(ts), e->ts_ns + o->wall_offset_ns));
		if (pid) {
			row_u64(&r, COL_pid, pid);
			row_str(&r, COL_comm, comm);
		}
		row_u64(&r, COL_netns, e->netns);
		row_text(&r, COL_family, e->family == AF_INET6 ? "ipv6" : "ipv4");
		row_text(&r, COL_laddr, format_addr(la, sizeof(la), e->family, e->saddr));
		row_u64(&r, COL_lport, e->sport);
		row_text(&r, COL_raddr, format_addr(ra, sizeof(ra), e->family, e->daddr));
		row_u64(&r, COL_rport, e->dport);
		row_text(&r, COL_oldstate, state_name(e->oldstate));
		row_text(&r, COL_newstate, state_name(e->newstate));
		row_us(&r, COL_elapsed_us, elapsed_ns);
		row_str(&r, COL_cgroup, cg_shown(o->cg, cgid, cg, sizeof(cg)));
		row_str(&r, COL_workload, wl);
		row_write(&r, o->f, o->json);
		return;
	}
	char pidbuf[16], ms[32];

	format_clock(ts, sizeof(ts), e->ts_ns + o->wall_offset_ns);
	format_addr_port(la, sizeof(la), e->family, e->saddr, e->sport);
	format_addr_port(ra, sizeof(ra), e->family, e->daddr, e->dport);
	snprintf(pidbuf, sizeof(pidbuf), "%u", pid);
	format_ms(ms, sizeof(ms), elapsed_ns < 0 ? -1 : elapsed_ns / 1000);
	fprintf(o->f, "%-12s %-7s %-12.12s %-10u %-21s %-21s %-11s -> %-11s %9s %s\n", ts,
		pid ? pidbuf : "-", pid && comm[0] ? comm : "-", e->netns, la, ra,
		state_name(e->oldstate), state_name(e->newstate), ms, wl ? wl : "-");
}

const struct sink events_sink = {
	.header = ev_header,
	.transition = ev_transition,
};
