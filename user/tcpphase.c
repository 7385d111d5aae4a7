// SPDX-License-Identifier: GPL-2.0
/*
 * tcpphase - trace every phase of every TCP connection on this host:
 * handshake latency on both sides, the half-close states, TIME_WAIT.
 *
 * The loader: open -> configure -> load -> attach the BPF programs, then
 * poll the ring buffer on a timer (the programs submit without wakeups),
 * feed the connection table, and flush the outputs once per batch. Every
 * loss the kernel or the programs report is printed on exit.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpfstats.h"
#include "conntable.h"
#include "format.h"
#include "kcounters.h"
#include "ksyms.h"
#include "metrics.h"
#include "opts.h"
#include "record.h"
#include "sink.h"
#include "sockdiag.h"
#include "summary.h"
#include "tcpphase.h"
#include "tcpphase.skel.h"

#define POLL_MS 50
#define LOSS_CHECK_NS 1000000000ULL

static volatile sig_atomic_t exiting;

struct tracer {
	struct options opts;
	struct tcpphase_bpf *skel;
	struct ring_buffer *rb;
	struct conntable *table;
	struct out out;
	struct summary *summary;
	struct metrics *metrics;
	struct recorder *recorder;
	struct kcounters k0;
	uint64_t reported_loss;
	uint64_t last_summary;
	int rec_err; /* first recorder error, -errno */
	uint64_t rec_refused; /* events the recording format refused */
};

static void sig_stop(int sig)
{
	exiting = 1;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return vfprintf(stderr, fmt, args);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

static void __attribute__((format(printf, 1, 2))) die_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror_line(fmt, ap);
	va_end(ap);
}

/* Root, or CAP_BPF and CAP_PERFMON in the effective set. */
static bool privileged(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &hdr, data))
		return false;
	return (data[CAP_BPF / 32].effective & (1U << (CAP_BPF % 32))) &&
	       (data[CAP_PERFMON / 32].effective & (1U << (CAP_PERFMON % 32)));
}

/* A record from the table goes to every output that wants it. */
static void on_record(void *ctx, const struct conn *c, enum rec_kind kind)
{
	struct tracer *t = ctx;

	if (!t->opts.summary)
		lifecycle_sink.record(&t->out, c, kind);
	if (kind != REC_FINAL)
		return;
	if (t->summary)
		summary_add(t->summary, c);
	if (t->metrics)
		metrics_add(t->metrics, c);
}

static void on_transition(void *ctx, const struct event *e, const struct conn *c,
			  int64_t elapsed_ns)
{
	struct tracer *t = ctx;

	events_sink.transition(&t->out, e, c, elapsed_ns);
}

/* Run probe_tw on one tw sock; checks that it still is the one we know. */
static int probe_tw(struct tracer *t, uint64_t tw, uint8_t *substate, __u64 *expires_ns)
{
	struct tw_probe *p = &t->skel->bss->tw_probe_out;
	__u64 args[1] = { tw };
	LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = args, .ctx_size_in = sizeof(args));

	if (!bpf_program__autoload(t->skel->progs.probe_tw))
		return -ENOTSUP;
	memset(p, 0, sizeof(*p));
	if (bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.probe_tw), &topts))
		return -errno;
	if (!p->valid || p->tw != tw)
		return -ENOENT;
	*substate = p->substate;
	*expires_ns = p->expires_ns;
	return 0;
}

static void record_event(struct tracer *t, const struct event *e)
{
	int err;

	if (!t->recorder || t->rec_err)
		return;
	err = recorder_write(t->recorder, e);
	if (err == -EINVAL)
		t->rec_refused++; /* an event the format cannot hold: counted */
	else if (err)
		t->rec_err = err;
}

static int handle_event(void *ctx, void *data, size_t len)
{
	struct tracer *t = ctx;

	if (len < sizeof(struct event))
		return 0;
	record_event(t, data);
	ct_event(t->table, data);
	return 0;
}

/* Why the kernel refused us, in one line. */
static const char *load_hint(int err)
{
	if (err == -EPERM || err == -EACCES)
		return "permission denied: run as root or with CAP_BPF and CAP_PERFMON";
	if (err == -ENOENT || err == -ESRCH)
		return "a kernel type or tracepoint is missing (kernel without BTF?)";
	return strerror(-err);
}

static bool tracefs_ready(void)
{
	struct stat st;

	if (!stat("/sys/kernel/tracing/events", &st) ||
	    !stat("/sys/kernel/debug/tracing/events", &st))
		return true;
	/* mount it when we can: the accept() tracepoints need it */
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		return true;
	return false;
}

/* Configure the programs from the options, before load. */
static void disable_timers(struct tcpphase_bpf *s)
{
	bpf_program__set_autoload(s->progs.timer_start, false);
	bpf_program__set_autoload(s->progs.timer_start_rescue, false);
	bpf_program__set_autoload(s->progs.timer_expire_entry, false);
	bpf_program__set_autoload(s->progs.timer_expire_entry_rescue, false);
	bpf_program__set_autoload(s->progs.timer_cancel, false);
	bpf_program__set_autoload(s->progs.timer_cancel_rescue, false);
	bpf_program__set_autoload(s->progs.probe_tw, false);
}

/* Does the running kernel's BTF know tracepoint tp (its btf_trace_<tp> typedef)? */
static bool kernel_has_tracepoint(const struct btf *vmlinux, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return vmlinux && btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

/*
 * Run-time feature probes, no version checks: what this kernel lacks is
 * said once, and tcpphase runs with what it has. Only the state
 * tracepoint is required.
 */
static int probe_features(struct tracer *t)
{
	static const char *const fns[] = { "tw_timer_handler", "reqsk_timer_handler" };
	static const char *const timers[] = { "timer_start", "timer_expire_entry", "timer_cancel" };
	struct tcpphase_bpf *s = t->skel;
	struct btf *vmlinux = btf__load_vmlinux_btf();
	const char *missing = NULL;
	uint64_t addrs[2];
	int ret = 0;

	if (!kernel_has_tracepoint(vmlinux, "inet_sock_set_state")) {
		die_msg("this kernel has no sock:inet_sock_set_state tracepoint (Linux 4.16+ "
			"with BTF is needed)");
		ret = -ENOENT;
		goto out;
	}
	if (t->opts.events) {
		disable_timers(s); /* the state stream needs no timers */
		goto out;
	}
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
		if (!kernel_has_tracepoint(vmlinux, timers[i]))
			missing = timers[i];
	if (missing) {
		die_msg("warning: no timer:%s tracepoint: TIME_WAIT and passive handshakes "
			"are not timed",
			missing);
		disable_timers(s);
		goto out;
	}
	if (ksyms_lookup(fns, addrs, 2) != 2) {
		die_msg("warning: tw_timer_handler/reqsk_timer_handler not in /proc/kallsyms: "
			"TIME_WAIT and passive handshakes are not timed");
		disable_timers(s);
		goto out;
	}
	s->rodata->tw_timer_fn = addrs[0];
	s->rodata->req_timer_fn = addrs[1];
out:
	btf__free(vmlinux);
	return ret;
}

/* Configure the programs from the options, before load. */
static int configure(struct tracer *t)
{
	struct tcpphase_bpf *s = t->skel;
	const struct options *o = &t->opts;

	s->rodata->target_pid = o->pid;
	s->rodata->target_family = o->family;
	for (int i = 0; i < o->n_lports; i++)
		s->rodata->lports[i] = o->lports[i];
	s->rodata->n_lports = o->n_lports;
	for (int i = 0; i < o->n_rports; i++)
		s->rodata->rports[i] = o->rports[i];
	s->rodata->n_rports = o->n_rports;
	s->rodata->wakeup_bytes = bpf_map__max_entries(s->maps.events) / 4;
	bpf_program__set_autoattach(s->progs.probe_tw, false);
	return probe_features(t);
}

/*
 * Attach in definition order: each rescue program must run after its
 * primary on the same tracepoint. The accept() hooks are optional.
 */
static int attach(struct tracer *t)
{
	struct bpf_program *prog;
	struct bpf_link *link;
	bool accept_warned = false;

	bpf_object__for_each_program(prog, t->skel->obj) {
		const char *name = bpf_program__name(prog);
		bool optional = !strncmp(name, "exit_accept", 11);

		if (!bpf_program__autoload(prog) || !bpf_program__autoattach(prog))
			continue;
		if (optional && !tracefs_ready()) {
			if (!accept_warned)
				die_msg("warning: tracefs not mounted (mount -t tracefs nodev "
					"/sys/kernel/tracing): accept() not traced, passive "
					"sockets get the listener's pid");
			accept_warned = true;
			continue;
		}
		link = bpf_program__attach(prog);
		if (!link) {
			int err = -errno;

			if (optional) {
				if (!accept_warned)
					die_msg("warning: cannot trace accept() (%s): passive "
						"sockets get the listener's pid",
						strerror(-err));
				accept_warned = true;
				continue;
			}
			die_msg("cannot attach %s: %s", name, load_hint(err));
			return err;
		}
		/* keep it with the skeleton, which destroys it */
		for (int i = 0; i < t->skel->skeleton->prog_cnt; i++)
			if (*t->skel->skeleton->progs[i].prog == prog)
				*t->skel->skeleton->progs[i].link = link;
	}
	return 0;
}

/* Sum of kernel recursion misses of primaries and rescues. */
static void recursion_misses(struct tracer *t, uint64_t *primary, uint64_t *rescue)
{
	struct bpf_program *prog;

	*primary = *rescue = 0;
	bpf_object__for_each_program(prog, t->skel->obj) {
		struct prog_stats ps;
		int fd = bpf_program__fd(prog);

		if (fd < 0 || prog_stats_read(fd, &ps))
			continue;
		if (strstr(bpf_program__name(prog), "_rescue"))
			*rescue += ps.recursion_misses;
		else
			*primary += ps.recursion_misses;
	}
}

/* Losses so far: ring-buffer drops, events no program saw, table overflow. */
struct losses {
	uint64_t rb_drops;
	uint64_t rescued;
	uint64_t misses; /* primary misses */
	uint64_t lost; /* misses the rescue did not catch */
	uint64_t full;
};

static void read_losses(struct tracer *t, struct losses *l)
{
	uint64_t cnt[CNT_MAX] = { 0 }, rescue_misses;
	struct ct_stats st;

	percpu_counters_read(bpf_map__fd(t->skel->maps.counters), cnt, CNT_MAX);
	recursion_misses(t, &l->misses, &rescue_misses);
	ct_get_stats(t->table, &st);
	l->rb_drops = cnt[CNT_RB_DROPS];
	l->rescued = cnt[CNT_RESCUED];
	/*
	 * A primary's miss is recovered when its rescue handled the event; a
	 * rescue also re-handles the odd event its primary did see (the table
	 * drops those as duplicates). What is left was seen by neither.
	 */
	l->rescued -= st.duplicates < l->rescued ? st.duplicates : l->rescued;
	l->lost = l->misses > l->rescued ? l->misses - l->rescued : 0;
	l->full = st.table_full + cnt[CNT_SCRATCH_FULL];
}

static void report_losses(struct tracer *t, bool final)
{
	struct losses l;
	struct ct_stats st;
	uint64_t total;

	read_losses(t, &l);
	/*
	 * A transition that did not follow the socket's last known state means
	 * at least one event lost somewhere, even when no kernel counter saw it:
	 * count the larger of the two, so that no loss goes unreported.
	 */
	ct_get_stats(t->table, &st);
	if (st.missed > l.lost)
		l.lost = st.missed;
	total = l.rb_drops + l.lost + l.full;
	if (!final && total == t->reported_loss)
		return;
	t->reported_loss = total;
	if (!final) {
		fprintf(stderr,
			"tcpphase: lost %llu events (ring buffer full %llu, recursion %llu, "
			"table full %llu)\n",
			(unsigned long long)total, (unsigned long long)l.rb_drops,
			(unsigned long long)l.lost, (unsigned long long)l.full);
		return;
	}
	if (t->opts.events) {
		fprintf(stderr,
			"tcpphase: %llu state changes; lost %llu (ring buffer full %llu, recursion "
			"%llu of %llu misses, %llu rescued; table full %llu); missed transitions "
			"%llu, duplicates %llu\n",
			(unsigned long long)st.events, (unsigned long long)total,
			(unsigned long long)l.rb_drops, (unsigned long long)l.lost,
			(unsigned long long)l.misses, (unsigned long long)l.rescued,
			(unsigned long long)l.full, (unsigned long long)st.missed,
			(unsigned long long)st.duplicates);
		return;
	}
	fprintf(stderr,
		"tcpphase: %llu events, %llu records (%llu partial); lost %llu (ring buffer "
		"full %llu, recursion %llu of %llu misses, %llu rescued; table full %llu); "
		"missed transitions %llu\n",
		(unsigned long long)st.events, (unsigned long long)st.records,
		(unsigned long long)st.partial, (unsigned long long)total,
		(unsigned long long)l.rb_drops, (unsigned long long)l.lost,
		(unsigned long long)l.misses, (unsigned long long)l.rescued,
		(unsigned long long)l.full, (unsigned long long)st.missed);
}

static void report_kcounters(struct tracer *t)
{
	struct kcounters k;

	if (t->opts.events || kcounters_read(&k))
		return;
	fprintf(stderr,
		"tcpphase: kernel (this netns): TW +%llu, TWKilled +%llu, TWRecycled +%llu, "
		"TCPTimeWaitOverflow +%llu, tw live %llu\n",
		(unsigned long long)(k.tw - t->k0.tw),
		(unsigned long long)(k.tw_killed - t->k0.tw_killed),
		(unsigned long long)(k.tw_recycled - t->k0.tw_recycled),
		(unsigned long long)(k.tw_overflow - t->k0.tw_overflow),
		(unsigned long long)k.tw_live);
}

/* Hand the metrics server what it cannot see in the records. */
static void update_metrics(struct tracer *t)
{
	struct metrics_extra x = { 0 };
	struct ct_stats st;
	struct kcounters k;
	struct losses l;

	if (!t->metrics)
		return;
	ct_get_stats(t->table, &st);
	if (t->skel) {
		read_losses(t, &l);
		x.lost_ringbuf = l.rb_drops;
		x.lost_recursion = l.lost;
		x.rescued = l.rescued;
	}
	x.events = st.events;
	x.table_full = st.table_full;
	x.partial = st.partial;
	if (!kcounters_read(&k)) {
		x.k_tw = k.tw - t->k0.tw;
		x.k_tw_killed = k.tw_killed - t->k0.tw_killed;
		x.k_tw_recycled = k.tw_recycled - t->k0.tw_recycled;
		x.k_tw_overflow = k.tw_overflow - t->k0.tw_overflow;
		x.k_tw_live = k.tw_live;
	}
	metrics_set_extra(t->metrics, &x);
}

static void print_stuck(void *ctx, struct conn *c, int state, uint64_t age_ns)
{
	struct tracer *t = ctx;
	char la[ADDRPORT_STRLEN], ra[ADDRPORT_STRLEN], pid[16];
	FILE *f = t->opts.csv ? stderr : t->out.f;

	if (c->stuck_reported)
		return;
	c->stuck_reported = true;
	format_addr_port(la, sizeof(la), c->family, c->laddr, c->lport);
	format_addr_port(ra, sizeof(ra), c->family, c->raddr, c->rport);
	snprintf(pid, sizeof(pid), "%u", c->pid);
	fprintf(f, "STUCK %-10s for %.1f s: pid %s %s %s -> %s netns %u\n", state_name(state),
		age_ns / 1e9, c->pid ? pid : "-", c->pid ? c->comm : "-", la, ra, c->netns);
}

struct orphans {
	uint64_t tw[256];
	int n;
};

static void collect_orphan(void *ctx, uint64_t tw)
{
	struct orphans *o = ctx;

	if (o->n < (int)(sizeof(o->tw) / sizeof(o->tw[0])))
		o->tw[o->n++] = tw;
}

/*
 * Read every orphan FIN_WAIT2 tw sock: the peer's FIN may have turned it
 * into TIME_WAIT with a re-arm that fired no timer event. What is read
 * goes into the table (and a recording) as EV_TW_PROBE events.
 */
static void probe_orphans(struct tracer *t, uint64_t now)
{
	struct orphans o = { .n = 0 };

	if (!t->skel)
		return;
	ct_each_orphan(t->table, collect_orphan, &o);
	for (int i = 0; i < o.n; i++) {
		struct event e = {
			.ts_ns = now, .type = EV_TW_PROBE, .id = o.tw[i], .family = AF_INET
		};

		if (probe_tw(t, o.tw[i], &e.newstate, &e.aux))
			continue;
		record_event(t, &e);
		ct_event(t->table, &e);
	}
}

/* --stuck: what was already stuck before we began, age unknown. */
static void list_stuck_at_start(struct tracer *t)
{
	FILE *f = t->opts.csv ? stderr : t->out.f;
	struct diag_sock *s;
	size_t n;
	int err = sockdiag_stuck(&s, &n);

	if (err) {
		die_msg("warning: cannot list existing sockets (sock_diag: %s)", strerror(-err));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char la[ADDRPORT_STRLEN], ra[ADDRPORT_STRLEN], pid[16];

		if (!tuple_filtered(&t->opts, s[i].family, s[i].lport, s[i].rport))
			continue;
		format_addr_port(la, sizeof(la), s[i].family, s[i].laddr, s[i].lport);
		format_addr_port(ra, sizeof(ra), s[i].family, s[i].raddr, s[i].rport);
		snprintf(pid, sizeof(pid), "%u", s[i].pid);
		fprintf(f, "STUCK %-10s for ? s (open before tracing): pid %s %s %s -> %s\n",
			state_name(s[i].state), s[i].pid ? pid : "-", s[i].pid ? s[i].comm : "-",
			la, ra);
	}
	free(s);
}

/* Once a second: losses, metrics, stuck sockets, and the periodic summary. */
static void periodic(struct tracer *t, uint64_t now)
{
	if (t->skel)
		report_losses(t, false);
	update_metrics(t);
	if (t->opts.stuck_s > 0) {
		probe_orphans(t, now);
		ct_each_stuck(t->table, now, t->opts.stuck_s * 1e9, print_stuck, t);
	}
	if (t->summary && t->opts.interval_s > 0 &&
	    now - t->last_summary >= t->opts.interval_s * 1e9) {
		summary_print(t->summary, t->out.f, (now - t->last_summary) / 1e9);
		summary_reset(t->summary);
		t->last_summary = now;
	}
}

/* The end of tracing at 'now': settle the table, record the end, final outputs. */
static void finish(struct tracer *t, uint64_t now)
{
	struct event end = { .ts_ns = now, .type = EV_END, .family = AF_INET };

	probe_orphans(t, now);
	record_event(t, &end);
	ct_flush(t->table, now);
	if (t->summary)
		summary_print(t->summary, t->out.f,
			      t->last_summary ? (now - t->last_summary) / 1e9 : 0);
}

/* The live poll loop: returns 0, or the errno of a failed write. */
static int run(struct tracer *t)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC), last_check = start;
	uint64_t stop_at = t->opts.duration_s > 0 ? start + t->opts.duration_s * 1e9 : 0;
	int err;

	t->last_summary = start;
	while (!exiting) {
		uint64_t now;

		/* wakes early only when the buffer fills; records submitted
		 * without a wakeup are not reported by epoll: consume them */
		err = ring_buffer__poll(t->rb, POLL_MS);
		if (err >= 0)
			err = ring_buffer__consume(t->rb);
		if (err < 0 && err != -EINTR) {
			die_msg("ring buffer: %s", strerror(-err));
			return 0;
		}
		now = now_ns(CLOCK_MONOTONIC);
		ct_tick(t->table, now);
		if (out_flush(&t->out))
			return t->out.err;
		if (t->recorder && !t->rec_err)
			t->rec_err = recorder_flush(t->recorder);
		if (t->rec_err)
			return t->rec_err; /* negative: the recording failed */
		if (now - last_check >= LOSS_CHECK_NS) {
			periodic(t, now);
			last_check = now;
		}
		if (stop_at && now >= stop_at)
			break;
	}
	/* drain what the programs wrote before we stop reading */
	ring_buffer__consume(t->rb);
	finish(t, now_ns(CLOCK_MONOTONIC));
	return out_flush(&t->out);
}

/* -r: feed a recording through the same table and outputs; no BPF. */
static int replay(struct tracer *t)
{
	struct rec_header h;
	struct event e;
	char err[256];
	uint64_t last_tick = 0, last_ts = 0;
	struct replay *r = replay_open(t->opts.replay_path, &h, err, sizeof(err));
	int ret;

	if (!r) {
		die_msg("%s", err);
		return 1;
	}
	t->out.wall_offset_ns = h.wall_offset_ns;
	t->last_summary = h.start_ns;
	while ((ret = replay_next(r, &e, err, sizeof(err))) == 1 && !exiting) {
		if (e.type == EV_END) {
			finish(t, e.ts_ns);
			last_ts = 0;
			break;
		}
		ct_event(t->table, &e);
		last_ts = e.ts_ns;
		/* tick as the live loop did, every poll interval of event time */
		if (e.ts_ns - last_tick >= POLL_MS * 1000000ULL) {
			ct_tick(t->table, e.ts_ns);
			last_tick = e.ts_ns;
			if (t->summary && t->opts.interval_s > 0 &&
			    e.ts_ns - t->last_summary >= t->opts.interval_s * 1e9) {
				summary_print(t->summary, t->out.f,
					      (e.ts_ns - t->last_summary) / 1e9);
				summary_reset(t->summary);
				t->last_summary = e.ts_ns;
			}
		}
		if (out_flush(&t->out))
			break;
	}
	replay_close(r);
	if (ret < 0) {
		die_msg("%s", err);
		return 1;
	}
	if (last_ts) /* a recording cut short: no end marker */
		finish(t, last_ts);
	if (out_flush(&t->out) == EPIPE)
		return 0;
	if (t->out.err) {
		die_msg("write error: %s", strerror(t->out.err));
		return 1;
	}
	return 0;
}

/* Set up what both live tracing and replay use: outputs and the table. */
static int setup_outputs(struct tracer *t)
{
	struct ct_config cfg = { 0 };
	char err[256];

	t->out.f = stdout;
	t->out.csv = t->opts.csv;
	t->out.wide = t->opts.wide;
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	if (t->opts.summary) {
		t->summary = summary_new(t->opts.by, t->opts.top);
		if (!t->summary) {
			die_msg("out of memory");
			return -1;
		}
	}
	if (t->opts.metrics_addr) {
		t->metrics = metrics_start(t->opts.metrics_addr, t->opts.lports, t->opts.n_lports,
					   err, sizeof(err));
		if (!t->metrics) {
			die_msg("--metrics: %s", err);
			return -1;
		}
	}
	cfg.max_conns = t->opts.max_conns;
	cfg.ctx = t;
	if (t->opts.events)
		cfg.on_transition = on_transition;
	else
		cfg.on_record = on_record;
	t->table = ct_new(&cfg);
	if (!t->table) {
		die_msg("out of memory for %u connections", cfg.max_conns);
		return -1;
	}
	if (t->opts.events)
		events_sink.header(&t->out);
	else if (!t->opts.summary)
		lifecycle_sink.header(&t->out);
	else if (!t->opts.replay_path)
		fprintf(t->out.f, "Tracing TCP connection phases... Hit Ctrl-C to end.\n");
	return 0;
}

/* open -> configure -> load -> attach; 0 or -1 with the reason printed. */
static int start_bpf(struct tracer *t)
{
	struct rec_header h;
	char err[256];
	int ret;

	if (!privileged()) {
		die_msg("permission denied: run as root or with CAP_BPF and CAP_PERFMON");
		return -1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		die_msg("kernel BTF not available (/sys/kernel/btf/vmlinux): "
			"CONFIG_DEBUG_INFO_BTF=y is needed");
		return -1;
	}
	t->skel = tcpphase_bpf__open();
	if (!t->skel) {
		die_msg("cannot open BPF object: %s", strerror(errno));
		return -1;
	}
	if (configure(t))
		return -1;
	ret = tcpphase_bpf__load(t->skel);
	if (ret) {
		die_msg("cannot load BPF programs: %s", load_hint(ret));
		return -1;
	}
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), handle_event, t, NULL);
	if (!t->rb) {
		die_msg("cannot create ring buffer: %s", strerror(errno));
		return -1;
	}
	if (t->opts.record_path) {
		rec_header_init(&h);
		h.wall_offset_ns = t->out.wall_offset_ns; /* one conversion for both */
		t->recorder = recorder_open(t->opts.record_path, &h, err, sizeof(err));
		if (!t->recorder) {
			die_msg("-W: %s", err);
			return -1;
		}
	}
	if (attach(t))
		return -1;
	kcounters_read(&t->k0);
	return 0;
}

int main(int argc, char **argv)
{
	struct tracer t = { 0 };
	int err, status = 1;

	opts_parse(argc, argv, &t.opts);
	t.out.wall_offset_ns = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
	libbpf_set_print(t.opts.verbose ? libbpf_print : libbpf_quiet);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, sig_stop);
	signal(SIGTERM, sig_stop);

	if (t.opts.replay_path) {
		if (setup_outputs(&t) == 0)
			status = replay(&t);
		goto cleanup;
	}
	if (start_bpf(&t) || setup_outputs(&t))
		goto cleanup;
	if (t.opts.verbose)
		fprintf(stderr, "tcpphase: tracing, Ctrl-C to stop\n");
	if (t.opts.stuck_s > 0)
		list_stuck_at_start(&t);
	fflush(stdout);
	err = run(&t);
	if (t.rec_refused)
		die_msg("-W %s: %llu events not recorded (invalid)", t.opts.record_path,
			(unsigned long long)t.rec_refused);
	if (err == EPIPE) {
		status = 0; /* the reader went away: a normal end */
	} else if (err < 0) {
		die_msg("-W %s: %s", t.opts.record_path, strerror(-err));
	} else if (err) {
		die_msg("write error: %s", strerror(err));
	} else {
		status = 0;
		report_losses(&t, true);
		report_kcounters(&t);
	}
	if (t.recorder) {
		err = recorder_close(t.recorder);
		t.recorder = NULL;
		if (err && status == 0) {
			die_msg("-W %s: %s", t.opts.record_path, strerror(-err));
			status = 1;
		}
	}

cleanup:
	recorder_close(t.recorder);
	metrics_stop(t.metrics);
	summary_free(t.summary);
	ring_buffer__free(t.rb);
	tcpphase_bpf__destroy(t.skel);
	ct_free(t.table);
	return status;
}
