// SPDX-License-Identifier: GPL-2.0
/*
 * stuck_out.c - the --stuck lines: an endpoint sitting in CLOSE_WAIT or
 * FIN_WAIT2, as a text line or, with --json, an object whose keys are the
 * columns below (as if --stuck had a CSV form).
 */
#include <sys/socket.h>

#include "format.h"
#include "row.h"
#include "sink.h"

/* the columns, in order: one list for the enum and the names */
/* clang-format off */
#define ST_COLUMNS(C) \
	C(time) C(state) C(stuck_us) C(pid) C(comm) C(netns) \
	C(family) C(laddr) C(lport) C(raddr) C(rport) C(cgroup) C(workload)
/* clang-format on */

enum { ST_COLUMNS(COL_ENUM) ST_NCOLS };
static const char *const st_names[] = { ST_COLUMNS(COL_NAME) };
const struct columns stuck_cols = { st_names, ST_NCOLS };

static void stuck_json(struct out *o, FILE *f, const struct stuck *s, uint64_t now_ns)
{
	char t[TIME_STRLEN], la[ADDR_STRLEN], ra[ADDR_STRLEN], cg[24];
	struct row r;

	row_init(&r, &stuck_cols);
	row_str(&r, COL_time, format_rfc3339(t, sizeof(t), now_ns + o->wall_offset_ns));
	row_str(&r, COL_state, state_name(s->state));
	row_us(&r, COL_stuck_us, s->age_ns);
	if (s->pid) {
		row_u64(&r, COL_pid, s->pid);
		row_str(&r, COL_comm, s->comm);
	}
	if (s->netns)
		row_u64(&r, COL_netns, s->netns);
	row_str(&r, COL_family, s->family == AF_INET6 ? "ipv6" : "ipv4");
	row_str(&r, COL_laddr, format_addr(la, sizeof(la), s->family, s->laddr));
	row_u64(&r, COL_lport, s->lport);
	row_str(&r, COL_raddr, format_addr(ra, sizeof(ra), s->family, s->raddr));
	row_u64(&r, COL_rport, s->rport);
	row_str(&r, COL_cgroup, cg_shown(o->cg, s->cgroup, cg, sizeof(cg)));
	row_str(&r, COL_workload, o->cg ? cg_workload(o->cg, s->cgroup) : NULL);
	row_write(&r, f, true);
}

void stuck_print(struct out *o, FILE *f, const struct stuck *s, uint64_t now_ns)
{
	char la[ADDRPORT_STRLEN], ra[ADDRPORT_STRLEN], pid[16];
	const char *p = s->pid ? pid : "-", *comm = s->pid ? s->comm : "-";
	const char *wl = o->cg ? cg_workload(o->cg, s->cgroup) : NULL;

	if (o->json) {
		stuck_json(o, f, s, now_ns);
		return;
	}
	format_addr_port(la, sizeof(la), s->family, s->laddr, s->lport);
	format_addr_port(ra, sizeof(ra), s->family, s->raddr, s->rport);
	snprintf(pid, sizeof(pid), "%u", s->pid);
	if (s->age_ns < 0)
		fprintf(f, "STUCK %-10s for ? s (open before tracing): pid %s %s %s -> %s\n",
			state_name(s->state), p, comm, la, ra);
	else
		fprintf(f, "STUCK %-10s for %.1f s: pid %s %s %s -> %s netns %u%s%s\n",
			state_name(s->state), s->age_ns / 1e9, p, comm, la, ra, s->netns,
			wl ? " workload " : "", wl ? wl : "");
}
