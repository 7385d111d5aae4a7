// SPDX-License-Identifier: GPL-2.0
/*
 * bpfsetup.c - bring the BPF programs up: check privileges and BTF, probe
 * what this kernel has, configure the const volatile filters, load, and
 * attach each primary before its rescue. Also runs probe_tw on demand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "gauges.h"
#include "hz.h"
#include "kfeatures.h"
#include "btfprobe.h"
#include "ksyms.h"
#include "rstreason.h"
#include "tcpphase.skel.h"
#include "tracer.h"

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

/* Run probe_tw on one tw sock; checks that it still is the one we know. */
int probe_tw(struct tracer *t, uint64_t tw, uint8_t *substate, __u64 *expires_ns)
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

/* One read of jiffies and CLOCK_MONOTONIC together, through probe_clock. */
static int read_clock(struct tracer *t, struct clock_probe *c)
{
	__u64 args[1] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = args, .ctx_size_in = sizeof(args));

	if (bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.probe_clock), &topts))
		return -errno;
	*c = t->skel->bss->clock_probe_out;
	return 0;
}

/*
 * Measure the kernel's HZ (jiffies against the monotonic clock, ~0.1 s) and
 * hand the length of a jiffy to the programs, which turn timer expiries into
 * times with it. The kernel config, which may not be readable (no
 * /proc/config.gz, no /boot in a container), is never needed.
 */
static int measure_hz(struct tracer *t)
{
	struct clock_probe a, b;
	unsigned int hz = 0;
	int err;

	for (int try = 1; try <= 3 && !hz; try++) {
		err = read_clock(t, &a);
		if (!err) {
			usleep(try * 100000);
			err = read_clock(t, &b);
		}
		if (err)
			return log_err(t->log, err,
				       "cannot measure the kernel's HZ (BPF_PROG_TEST_RUN: %s)",
				       strerror(-err));
		hz = hz_from_jiffies(b.jiffies - a.jiffies, b.ktime_ns - a.ktime_ns);
	}
	if (!hz)
		return log_err(t->log, -EIO,
			       "cannot measure the kernel's HZ: jiffies did not advance steadily");
	t->skel->data->jiffy_ns = (NSEC_PER_SEC + hz / 2) / hz;
	if (t->opts->verbose)
		log_note(t->log, "kernel HZ=%u (measured)", hz);
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

/*
 * Is tracefs there for the syscall tracepoints? Mount it when we can; else
 * say why not (not mounted, or mounted but not readable by us).
 */
static bool tracefs_ready(const char **why)
{
	struct stat st;
	int err;

	if (!stat("/sys/kernel/tracing/events", &st))
		return true;
	err = errno;
	if (!stat("/sys/kernel/debug/tracing/events", &st))
		return true;
	if (err == EACCES || errno == EACCES) {
		*why = "tracefs not readable (root or CAP_DAC_READ_SEARCH is needed)";
		return false;
	}
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		return true;
	*why = "tracefs not mounted (mount -t tracefs nodev /sys/kernel/tracing)";
	return false;
}

/* Leave out every timer program (and probe_tw, which reads tw socks). */
static void disable_timers(struct tcpphase_bpf *s)
{
	bpf_program__set_autoload(s->progs.timer_start, false);
	bpf_program__set_autoload(s->progs.timer_expire_entry, false);
	bpf_program__set_autoload(s->progs.timer_cancel, false);
	bpf_program__set_autoload(s->progs.probe_tw, false);
}

/*
 * The names of the kernel's enum sk_rst_reason values, from its BTF (none
 * when the kernel has no such enum: its resets carry no reason).
 */
static void rst_reasons_from_btf(const struct btf *btf)
{
	static const char prefix[] = "SK_RST_REASON_";
	const struct btf_type *t;
	const struct btf_enum *en;
	int id;

	id = btf ? btf__find_by_name_kind(btf, "sk_rst_reason", BTF_KIND_ENUM) : -1;
	if (id <= 0)
		return;
	t = btf__type_by_id(btf, id);
	en = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++, en++) {
		const char *name = btf__name_by_offset(btf, en->name_off);

		if (name && !strncmp(name, prefix, sizeof(prefix) - 1))
			name += sizeof(prefix) - 1;
		if (name && en->val >= 0)
			rst_reason_set(en->val, name);
	}
}

void rst_reasons_load(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();

	rst_reasons_from_btf(vmlinux);
	btf__free(vmlinux);
}

/*
 * The reset hooks: tcp:tcp_send_reset with the reason argument where the
 * tracepoint has it (its BTF prototype says so: ctx, sk, skb, reason),
 * else without; either missing is said once, and left out.
 */
static void probe_resets(struct tracer *t, const struct btf *vmlinux)
{
	struct tcpphase_bpf *s = t->skel;
	int send = tracepoint_args(vmlinux, "tcp_send_reset");

	if (send >= 4) {
		bpf_program__set_autoload(s->progs.send_reset_noreason, false);
		rst_reasons_from_btf(vmlinux);
	} else {
		bpf_program__set_autoload(s->progs.send_reset, false);
		if (send < 3)
			bpf_program__set_autoload(s->progs.send_reset_noreason, false);
	}
	if (send < 3)
		log_warn(t->log, "no tcp:tcp_send_reset tracepoint: resets sent are not seen");
	if (!kernel_has_tracepoint(vmlinux, "tcp_receive_reset")) {
		bpf_program__set_autoload(s->progs.receive_reset, false);
		log_warn(t->log, "no tcp:tcp_receive_reset tracepoint: resets received are "
				 "not seen");
	}
}

/*
 * The listener view's hooks (--listeners), each where the kernel has what
 * it needs: consume_skb with its location argument and where
 * tcp_rcv_state_process lies (SYNs, drops on a full queue, syncookies),
 * kfree_skb's TCP_LISTEN_OVERFLOW reason (final ACKs dropped),
 * tcp_retransmit_synack. What is missing is said once.
 */
static void probe_listeners(struct tracer *t, const struct btf *vmlinux)
{
	struct tcpphase_bpf *s = t->skel;
	uint64_t lo, hi;
	int err;

	if (!t->opts->listeners) {
		bpf_program__set_autoload(s->progs.listen_syn, false);
		bpf_program__set_autoload(s->progs.listen_drop, false);
		bpf_program__set_autoload(s->progs.listen_synack_rtx, false);
		return;
	}
	s->rodata->listen_view = true;
	err = tracepoint_args(vmlinux, "consume_skb") >= 3 ?
		      ksyms_range("tcp_rcv_state_process", &lo, &hi) :
		      -EOPNOTSUPP;
	if (err) {
		bpf_program__set_autoload(s->progs.listen_syn, false);
		log_warn(t->log, "--listeners: %s: SYNs dropped on a full queue are not counted",
			 err == -EOPNOTSUPP ? "skb:consume_skb has no location argument" :
					      "tcp_rcv_state_process not in /proc/kallsyms");
	} else {
		s->rodata->listen_syn_hook = true;
		s->rodata->rcv_state_lo = lo;
		s->rodata->rcv_state_hi = hi;
	}
	if (!kernel_has_drop_reason(vmlinux, "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW") ||
	    tracepoint_args(vmlinux, "kfree_skb") < 4) {
		bpf_program__set_autoload(s->progs.listen_drop, false);
		log_warn(t->log, "--listeners: no TCP_LISTEN_OVERFLOW drop reason: final ACKs "
				 "dropped on a full accept queue are not counted");
	}
	if (!kernel_has_tracepoint(vmlinux, "tcp_retransmit_synack"))
		bpf_program__set_autoload(s->progs.listen_synack_rtx, false);
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
	int ret = 0, found;

	if (!kernel_has_tracepoint(vmlinux, "inet_sock_set_state")) {
		ret = log_err(t->log, -ENOENT,
			      "this kernel has no sock:inet_sock_set_state tracepoint (Linux "
			      "4.16+ with BTF is needed)");
		goto out;
	}
	probe_resets(t, vmlinux);
	probe_listeners(t, vmlinux);
	if (t->opts->events) {
		disable_timers(s); /* the state stream needs no timers */
		goto out;
	}
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
		if (!kernel_has_tracepoint(vmlinux, timers[i]))
			missing = timers[i];
	if (missing) {
		log_warn(t->log,
			 "no timer:%s tracepoint: TIME_WAIT and passive handshakes "
			 "are not timed",
			 missing);
		disable_timers(s);
		goto out;
	}
	found = ksyms_lookup(fns, addrs, 2);
	if (found != 2) {
		log_warn(t->log,
			 "tw_timer_handler/reqsk_timer_handler %s: "
			 "TIME_WAIT and passive handshakes are not timed",
			 found == -EPERM ? "addresses hidden in /proc/kallsyms (CAP_SYSLOG is "
					   "needed, or kernel.kptr_restrict=0)" :
					   "not in /proc/kallsyms");
		disable_timers(s);
		goto out;
	}
	s->rodata->tw_timer_fn = addrs[0];
	s->rodata->req_timer_fn = addrs[1];
out:
	btf__free(vmlinux);
	return ret;
}

/*
 * Aggregation slots for open sockets: a quarter of --max-conns (TIME_WAIT
 * and closed endpoints need none), within 2^10..2^16; 384 bytes each.
 */
static uint32_t agg_slot_bits(uint32_t max_conns)
{
	uint32_t bits = 10;

	while (bits < 16 && (1U << bits) < max_conns / 4)
		bits++;
	return bits;
}

/* Configure the programs from the options, before load. */
static int configure(struct tracer *t)
{
	struct tcpphase_bpf *s = t->skel;
	const struct options *o = t->opts;

	s->rodata->target_pid = o->pid;
	s->rodata->target_family = o->family;
	for (int i = 0; i < o->n_lports; i++)
		s->rodata->lports[i] = o->lports[i];
	s->rodata->n_lports = o->n_lports;
	for (int i = 0; i < o->n_rports; i++)
		s->rodata->rports[i] = o->rports[i];
	s->rodata->n_rports = o->n_rports;
	for (int i = 0; i < o->n_cgroups; i++) {
		s->rodata->cgroup_ids[i] = o->cgroup_ids[i];
		s->rodata->cgroup_levels[i] = o->cgroup_levels[i];
	}
	s->rodata->n_cgroups = o->n_cgroups;
	/* the tw socks of --cgroup's sockets: no room taken without it */
	if (!o->n_cgroups && bpf_map__set_max_entries(s->maps.cgroup_tws, 1)) {
		return log_err(t->log, -1, "cannot size the cgroup map");
	}
	s->rodata->wakeup_bytes = bpf_map__max_entries(s->maps.events) / 4;
	/* live views of sockets that have not closed need every transition now */
	s->rodata->aggregate = !o->no_aggregate && !o->events && o->stuck_s <= 0;
	s->rodata->live = o->summary || o->metrics_addr || o->open;
	s->rodata->gauges = t->gauges = !o->events && (o->summary || o->metrics_addr);
	if (t->gauges && bpf_map__set_max_entries(s->maps.tw_gauge, o->max_conns)) {
		return log_err(t->log, -1, "cannot size the state gauges");
	}
	s->rodata->slot_bits = agg_slot_bits(o->max_conns);
	if (bpf_map__set_max_entries(s->maps.sock_slots, 1U << s->rodata->slot_bits) ||
	    bpf_map__set_max_entries(s->maps.req_slots, 1U << s->rodata->slot_bits) ||
	    aggring_configure(&t->agg, s, t->log)) {
		return log_err(t->log, -1, "cannot size the aggregation maps");
	}
	bpf_program__set_autoattach(s->progs.probe_tw, false);
	bpf_program__set_autoattach(s->progs.probe_clock, false);
	/* -p follows passive sockets from the accept() that hands them over;
	 * --listeners reads the queue each accept() leaves */
	if (!o->accept && !o->pid && !o->listeners) {
		bpf_program__set_autoload(s->progs.exit_accept4, false);
		bpf_program__set_autoload(s->progs.exit_accept, false);
	}
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
	const char *why = NULL;

	bpf_object__for_each_program(prog, t->skel->obj) {
		const char *name = bpf_program__name(prog);
		/* the skeleton names each program: no name strings to match */
		bool optional = prog == t->skel->progs.exit_accept ||
				prog == t->skel->progs.exit_accept4;

		if (!bpf_program__autoload(prog) || !bpf_program__autoattach(prog))
			continue;
		if (optional && !tracefs_ready(&why)) {
			if (!accept_warned)
				log_warn(t->log,
					 "%s: accept() not traced, a passive "
					 "socket's owner is the task that closes it",
					 why);
			accept_warned = true;
			continue;
		}
		link = bpf_program__attach(prog);
		if (!link) {
			int err = -errno;

			if (optional) {
				if (!accept_warned)
					log_warn(t->log,
						 "cannot trace accept() (%s): a passive "
						 "socket's owner is the task that closes it",
						 strerror(-err));
				accept_warned = true;
				continue;
			}
			return log_err(t->log, err, "cannot attach %s: %s", name, load_hint(err));
		}
		/* keep it with the skeleton, which destroys it */
		for (int i = 0; i < t->skel->skeleton->prog_cnt; i++)
			if (*t->skel->skeleton->progs[i].prog == prog)
				*t->skel->skeleton->progs[i].link = link;
	}
	return 0;
}

/*
 * The state gauges start from the sockets open now, counted once, right
 * after attaching (one that changes state during the count may be counted
 * twice). With -p or --cgroup only the changes are counted: sock_diag
 * cannot tell whose a socket is.
 */
static void count_open_sockets(struct tracer *t)
{
	int n, denied;

	if (!t->gauges || t->opts->pid || t->opts->n_cgroups)
		return;
	n = gauges_snapshot(t, t->gauge_base, &denied);
	if (n < 0)
		log_warn(t->log,
			 "cannot count the sockets open at start (sock_diag: %s): "
			 "the state gauges count changes only",
			 strerror(-n));
	else if (denied)
		log_warn(t->log,
			 "the state gauges count the sockets open at start in %d "
			 "network namespace%s; %d more could not be entered (CAP_SYS_ADMIN): "
			 "there they count changes only",
			 n, n == 1 ? "" : "s", denied);
}

/*
 * Check, open, configure, load, measure HZ, map the rings, make the ring
 * buffer (its records to fn(ctx)); 0 or -1 with the reason in the log.
 */
int bpf_load(struct tracer *t, ring_record_fn fn, void *ctx)
{
	char err[256];
	int ret;

	if (!privileged())
		return log_err(t->log, -1, "%s", load_hint(-EPERM));
	/* a kernel too old for us gets one line naming what it lacks */
	if (kfeatures_check(err, sizeof(err)))
		return log_err(t->log, -1, "%s", err);
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return log_err(t->log, -1,
			       "kernel BTF not available (/sys/kernel/btf/vmlinux): "
			       "CONFIG_DEBUG_INFO_BTF=y is needed");
	t->skel = tcpphase_bpf__open();
	if (!t->skel)
		return log_err(t->log, -1, "cannot open BPF object: %s", strerror(errno));
	if (configure(t))
		return -1;
	ret = tcpphase_bpf__load(t->skel);
	if (ret)
		return log_err(t->log, -1, "cannot load BPF programs: %s", load_hint(ret));
	if (measure_hz(t))
		return -1;
	ret = aggring_open(&t->agg, t->skel);
	if (ret)
		return log_err(t->log, -1, "cannot map the aggregation rings: %s", strerror(-ret));
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), fn, ctx, NULL);
	if (!t->rb)
		return log_err(t->log, -1, "cannot create ring buffer: %s", strerror(errno));
	return 0;
}

/* Attach, then take the counters and gauges' starting points; 0 or -1 (the log says why). */
int bpf_attach(struct tracer *t)
{
	if (attach(t))
		return -1;
	kcounters_read(&t->k0);
	count_open_sockets(t);
	return 0;
}
