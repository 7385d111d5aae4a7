// SPDX-License-Identifier: GPL-2.0
/*
 * test_progs.c - tcpphase's BPF programs on their own, in the style of the
 * kernel's selftests (tools/testing/selftests/bpf/test_progs.c): the
 * skeleton is opened, configured as bpfsetup.c configures it for the plain,
 * per-transition mode (--no-aggregate), loaded and attached; each test
 * opens real loopback connections in a network namespace of its own and
 * reads the ring buffer itself (libbpf's ring_buffer API), then asserts on
 * the records that crossed (struct event, bpf/tcpphase.h).
 *
 *  - timewait: an active close. The client's records show ESTABLISHED ->
 *    FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT: its state changes, the tw sock's
 *    first arming (twtimer.bpf.h) and the "-> CLOSE" naming that tw sock;
 *    then the TIME_WAIT killed as `ss -K` does (SOCK_DESTROY) ends with
 *    the timer's cancel. An orphan's FIN_WAIT2 too, read with probe_tw.
 *  - handshake: the passive side. The request sock's timer records
 *    (reqtimer.bpf.h) for the SYN, joined by tuple to the server child's
 *    SYN_RECV -> ESTABLISHED, in causal order, within the test's own
 *    clock around connect() and accept().
 *
 * Times: CLOCK_MONOTONIC, which is bpf_ktime_get_ns(); every bound comes
 * from the test's own stamps around the calls that cause an event, never
 * from a nominal delay. Needs root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN,
 * CAP_SYS_ADMIN for unshare); without it every test is skipped, or under
 * CI=true failed. Output as tests/unit/unit.h (ok/FAIL lines, file:line and
 * values on failure), ending "SUMMARY: P passed, F failed, S skipped".
 * An argument runs only the tests whose name contains it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "btfprobe.h"
#include "hz.h"
#include "ksyms.h"
#include "tcpphase.h"
#include "tcpphase.skel.h"
#include "unit.h"

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL
#define TCP_TIMEWAIT_LEN_NS (60 * NS_PER_S) /* include/net/tcp.h: 60 * HZ */
#define WAIT_NS (10 * NS_PER_S) /* how long a test waits for records at most */
#define MAX_RECS 4096

/* What every test shares: the loaded programs and what crossed. */
static struct {
	struct tcpphase_bpf *skel;
	struct ring_buffer *rb;
	__u64 jiffy_ns;
	int host_netns; /* to come back to after each test */
	__u32 netns; /* the test's own netns (its inode number), 0 outside one */
	struct event recs[MAX_RECS]; /* the records of the test's netns, in order */
	int n_recs;
	int overflow;
	int skipped;
} env;

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ---- the skeleton, brought up as bpfsetup.c does for --no-aggregate ---- */

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* The reset programs that fit this kernel's tracepoints (probe_resets()). */
static void choose_reset_progs(struct tcpphase_bpf *s)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int send = tracepoint_args(vmlinux, "tcp_send_reset");

	if (send >= 4) {
		bpf_program__set_autoload(s->progs.send_reset_noreason, false);
	} else {
		bpf_program__set_autoload(s->progs.send_reset, false);
		if (send < 3)
			bpf_program__set_autoload(s->progs.send_reset_noreason, false);
	}
	if (tracepoint_args(vmlinux, "tcp_receive_reset") < 0)
		bpf_program__set_autoload(s->progs.receive_reset, false);
	btf__free(vmlinux);
}

/*
 * configure() of bpfsetup.c with the default options and --no-aggregate:
 * no filters, no cgroups (their tw map shrunk to one entry), the wake-up
 * threshold, the aggregation maps sized as for --max-conns 262144 and the
 * per-CPU rings as aggring_configure() sizes them (loaded even unused), the
 * probes never attached, accept() not traced, the timer handlers' addresses.
 */
static bool configure(struct tcpphase_bpf *s)
{
	static const char *const fns[] = { "tw_timer_handler", "reqsk_timer_handler" };
	const __u32 slot_bits = 16; /* agg_slot_bits(262144) */
	int ncpus = libbpf_num_possible_cpus();
	__u32 ring_bits = 15;
	uint64_t addrs[2];

	s->rodata->target_pid = 0;
	s->rodata->n_lports = s->rodata->n_rports = s->rodata->n_cgroups = 0;
	if (!ASSERT_OK(bpf_map__set_max_entries(s->maps.cgroup_tws, 1), "size cgroup_tws"))
		return false;
	s->rodata->wakeup_bytes = bpf_map__max_entries(s->maps.events) / 4;
	s->rodata->aggregate = false;
	s->rodata->live = false;
	s->rodata->gauges = false;
	s->rodata->slot_bits = slot_bits;
	if (!ASSERT_GT(ncpus, 0, "possible CPUs"))
		return false;
	while (ring_bits > 9 &&
	       ((size_t)ncpus << ring_bits) * sizeof(struct agg_ring_rec) > (64U << 20))
		ring_bits--;
	s->rodata->agg_ring_bits = ring_bits;
	if (!ASSERT_OK(bpf_map__set_max_entries(s->maps.sock_slots, 1U << slot_bits) ||
			       bpf_map__set_max_entries(s->maps.req_slots, 1U << slot_bits) ||
			       bpf_map__set_max_entries(s->maps.agg_ring,
							(__u32)ncpus << ring_bits) ||
			       bpf_map__set_max_entries(s->maps.agg_ring_pos, ncpus),
		       "size the aggregation maps"))
		return false;
	bpf_program__set_autoattach(s->progs.probe_tw, false);
	bpf_program__set_autoattach(s->progs.probe_clock, false);
	bpf_program__set_autoload(s->progs.exit_accept4, false);
	bpf_program__set_autoload(s->progs.exit_accept, false);
	/* the listener view's hooks only load with --listeners */
	bpf_program__set_autoload(s->progs.listen_syn, false);
	bpf_program__set_autoload(s->progs.listen_drop, false);
	bpf_program__set_autoload(s->progs.listen_synack_rtx, false);
	choose_reset_progs(s);
	if (!ASSERT_EQ(ksyms_lookup(fns, addrs, 2), 2, "timer handlers in /proc/kallsyms"))
		return false;
	s->rodata->tw_timer_fn = addrs[0];
	s->rodata->req_timer_fn = addrs[1];
	return true;
}

/* One read of jiffies and the monotonic clock together (probe_clock). */
static int read_clock(struct clock_probe *c)
{
	__u64 args[1] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = args, .ctx_size_in = sizeof(args));

	if (bpf_prog_test_run_opts(bpf_program__fd(env.skel->progs.probe_clock), &topts))
		return -errno;
	*c = env.skel->bss->clock_probe_out;
	return 0;
}

/* The kernel's HZ, measured as measure_hz() does; the jiffy goes to .data. */
static bool measure_hz(void)
{
	struct clock_probe a, b;
	unsigned int hz = 0;

	for (int try = 1; try <= 3 && !hz; try++) {
		if (!ASSERT_OK(read_clock(&a), "probe_clock"))
			return false;
		usleep(try * 100000);
		if (!ASSERT_OK(read_clock(&b), "probe_clock"))
			return false;
		hz = hz_from_jiffies(b.jiffies - a.jiffies, b.ktime_ns - a.ktime_ns);
	}
	if (!ASSERT_GT(hz, 0, "HZ measured"))
		return false;
	env.jiffy_ns = env.skel->data->jiffy_ns = (NS_PER_S + hz / 2) / hz;
	return true;
}

/* Keep the records of the test's netns; the rest of the host's are dropped. */
static int on_record(void *ctx, void *data, size_t size)
{
	const struct event *e = data;

	if (size < sizeof(*e) || !env.netns || e->netns != env.netns)
		return 0;
	if (env.n_recs == MAX_RECS) {
		env.overflow++;
		return 0;
	}
	env.recs[env.n_recs++] = *e;
	return 0;
}

/* Attach in definition order, each primary before its rescue (attach()). */
static bool attach(void)
{
	struct tcpphase_bpf *s = env.skel;
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, s->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog) || !bpf_program__autoattach(prog))
			continue;
		link = bpf_program__attach(prog);
		if (!ASSERT_OK_PTR(link, bpf_program__name(prog)))
			return false;
		for (int i = 0; i < s->skeleton->prog_cnt; i++)
			if (*s->skeleton->progs[i].prog == prog)
				*s->skeleton->progs[i].link = link;
	}
	return true;
}

static bool setup(void)
{
	libbpf_set_print(silent_print);
	env.skel = tcpphase_bpf__open();
	if (!ASSERT_OK_PTR(env.skel, "tcpphase_bpf__open") || !configure(env.skel))
		return false;
	if (!ASSERT_OK(tcpphase_bpf__load(env.skel), "tcpphase_bpf__load") || !measure_hz())
		return false;
	env.rb = ring_buffer__new(bpf_map__fd(env.skel->maps.events), on_record, NULL, NULL);
	return ASSERT_OK_PTR(env.rb, "ring_buffer__new") && attach();
}

/* Ring-buffer records lost since load (CNT_RB_DROPS, summed over CPUs). */
static __u64 rb_drops(void)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 vals[ncpus > 0 ? ncpus : 1], sum = 0;
	__u32 key = CNT_RB_DROPS;

	if (ncpus <= 0 ||
	    bpf_map__lookup_elem(env.skel->maps.counters, &key, sizeof(key), vals, sizeof(vals), 0))
		return ~0ULL;
	for (int i = 0; i < ncpus; i++)
		sum += vals[i];
	return sum;
}

/*
 * The record names this process as its cause: its comm, and its pid where
 * the test runs in the initial pid namespace (BPF reads the global pid).
 */
static bool by_us(const char *what, const struct event *e)
{
	char comm[TASK_COMM_LEN + 1] = {};
	struct stat st;
	FILE *f = fopen("/proc/self/comm", "re");
	bool ok = ASSERT_TRUE(e->flags & EVF_PROC_CTX, what);

	if (f && fgets(comm, sizeof(comm), f))
		comm[strcspn(comm, "\n")] = '\0';
	if (f)
		fclose(f);
	ok &= ASSERT_STREQ(e->comm, comm, what);
	/* PROC_PID_INIT_INO: not in a container's pid namespace */
	if (!stat("/proc/self/ns/pid", &st) && st.st_ino == 0xEFFFFFFCU)
		ok &= ASSERT_EQ(e->pid, getpid(), what);
	else
		ok &= ASSERT_NEQ(e->pid, 0, what);
	return ok;
}

/* ---- a network namespace per test ---- */

/* A fresh netns with lo up; records of it alone are kept from now on. */
static bool netns_enter(void)
{
	struct ifreq ifr = {};
	struct stat st;
	int fd;

	if (!ASSERT_OK(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)"))
		return false;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!ASSERT_GE(fd, 0, "socket"))
		return false;
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (!ASSERT_OK(ioctl(fd, SIOCGIFFLAGS, &ifr), "SIOCGIFFLAGS lo")) {
		close(fd);
		return false;
	}
	ifr.ifr_flags |= IFF_UP;
	if (!ASSERT_OK(ioctl(fd, SIOCSIFFLAGS, &ifr), "bring lo up")) {
		close(fd);
		return false;
	}
	close(fd);
	if (!ASSERT_OK(stat("/proc/self/ns/net", &st), "stat netns"))
		return false;
	ring_buffer__consume(env.rb); /* what came before is not the test's */
	env.n_recs = env.overflow = 0;
	env.netns = st.st_ino;
	return true;
}

static const char *const type_names[EV_TYPE_MAX] = {
	[EV_STATE] = "STATE",
	[EV_ACCEPT] = "ACCEPT",
	[EV_REQ_START] = "REQ_START",
	[EV_REQ_EXPIRE] = "REQ_EXPIRE",
	[EV_REQ_CANCEL] = "REQ_CANCEL",
	[EV_TW_START] = "TW_START",
	[EV_TW_EXPIRE] = "TW_EXPIRE",
	[EV_TW_CANCEL] = "TW_CANCEL",
	[EV_RST] = "RST",
};

/* What crossed in the test's netns, shown when a subtest failed. */
static void dump_records(void)
{
	for (int i = 0; i < env.n_recs; i++) {
		const struct event *e = &env.recs[i];
		const char *t = e->type < EV_TYPE_MAX ? type_names[e->type] : NULL;

		printf("    %llu %-10s id %#llx %u -> %u sport %u dport %u aux %#llx flags %#x "
		       "pid %u\n",
		       (unsigned long long)e->ts_ns, t ? t : "?", (unsigned long long)e->id,
		       e->oldstate, e->newstate, e->sport, e->dport, (unsigned long long)e->aux,
		       e->flags, e->pid);
	}
}

/* Back to the host's netns: the test's goes with its last socket. */
static void netns_leave(void)
{
	if (!unit.sub_ok || getenv("PROGS_VERBOSE"))
		dump_records();
	env.netns = 0;
	if (setns(env.host_netns, CLONE_NEWNET))
		unit_fail(__FILE__, __LINE__, "setns back to the host's netns: %s",
			  strerror(errno));
}

/* Read the ring buffer until pred() holds, at most WAIT_NS. */
static bool wait_for(bool (*pred)(const void *), const void *arg)
{
	__u64 deadline = now_ns() + WAIT_NS;

	for (;;) {
		ring_buffer__consume(env.rb);
		if (pred(arg))
			return true;
		if (now_ns() > deadline)
			return false;
		usleep(2000);
	}
}

/* ---- sockets ---- */

static struct sockaddr_in loopback(__u16 port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int listen_on(__u16 port)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A loopback connection on port: *lfd listening, *cfd connected, *sfd
 * accepted; t[] the test's clock before and after connect() and after
 * accept(). false (and said) if any step fails; what was opened is left
 * for the caller to close.
 */
static bool connect_pair(__u16 port, int *lfd, int *cfd, int *sfd, __u64 t[3])
{
	struct sockaddr_in a = loopback(port);

	*lfd = listen_on(port);
	if (!ASSERT_GE(*lfd, 0, "listen"))
		return false;
	*cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!ASSERT_GE(*cfd, 0, "socket"))
		return false;
	t[0] = now_ns();
	if (!ASSERT_OK(connect(*cfd, (struct sockaddr *)&a, sizeof(a)), "connect"))
		return false;
	t[1] = now_ns();
	*sfd = accept(*lfd, NULL, NULL);
	t[2] = now_ns();
	return ASSERT_GE(*sfd, 0, "accept");
}

/* Close what connect_pair() opened (-1: not opened). */
static void close_pair(int lfd, int cfd, int sfd)
{
	if (sfd >= 0)
		close(sfd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
}

static __u16 local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	return getsockname(fd, (struct sockaddr *)&a, &len) ? 0 : ntohs(a.sin_port);
}

/*
 * Kill the TCP socket (here a tw sock) of this IPv4 tuple as `ss -K` does:
 * SOCK_DESTROY through sock_diag; 0 or -errno (-ENOENT: no such socket).
 */
static int sock_destroy(__u16 sport, __u16 dport)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req),
			 .nlmsg_type = SOCK_DESTROY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		.r = { .sdiag_family = AF_INET,
		       .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = ~0U,
		       .id = { .idiag_sport = htons(sport),
			       .idiag_dport = htons(dport),
			       .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
	};
	struct {
		struct nlmsghdr nlh;
		struct nlmsgerr err;
	} ack;
	int fd, ret;

	req.r.id.idiag_src[0] = req.r.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) != sizeof(req))
		ret = -errno;
	else if (recv(fd, &ack, sizeof(ack), 0) < (ssize_t)sizeof(ack.nlh) ||
		 ack.nlh.nlmsg_type != NLMSG_ERROR)
		ret = -EPROTO;
	else
		ret = ack.err.error;
	close(fd);
	return ret;
}

/* ---- finding records ---- */

/* The tuple as the endpoint sees it: ports, both addresses 127.0.0.1. */
static bool tuple_is(const struct event *e, __u16 sport, __u16 dport)
{
	static const __u8 lo[4] = { 127, 0, 0, 1 };

	return e->family == AF_INET && e->sport == sport && e->dport == dport &&
	       !memcmp(e->saddr, lo, 4) && !memcmp(e->daddr, lo, 4);
}

/* The first record of type (EV_STATE: and old -> new) on the tuple, or NULL. */
static const struct event *find(int type, __u16 sport, __u16 dport, int old, int new)
{
	for (int i = 0; i < env.n_recs; i++) {
		const struct event *e = &env.recs[i];

		if (e->type == type && tuple_is(e, sport, dport) &&
		    (type != EV_STATE || (e->oldstate == old && e->newstate == new)))
			return e;
	}
	return NULL;
}

/* The listener's CLOSE -> LISTEN on 127.0.0.1:port, or NULL. */
static const struct event *find_listener(__u16 port)
{
	static const __u8 lo[4] = { 127, 0, 0, 1 };

	for (int i = 0; i < env.n_recs; i++) {
		const struct event *e = &env.recs[i];

		if (e->type == EV_STATE && e->oldstate == TS_CLOSE && e->newstate == TS_LISTEN &&
		    e->family == AF_INET && e->sport == port && !memcmp(e->saddr, lo, 4))
			return e;
	}
	return NULL;
}

/* Its records of this type and id (0: any type), in order; returns how many. */
static int records_of(__u64 id, int type, const struct event **out, int max)
{
	int n = 0;

	for (int i = 0; i < env.n_recs && n < max; i++)
		if (env.recs[i].id == id && (!type || env.recs[i].type == type))
			out[n++] = &env.recs[i];
	return n;
}

/* Each of the socket's state changes, in order, is want[i] -> want[i + 1]. */
static bool states_are(const char *who, __u64 sk, const int *want, int n_want)
{
	const struct event *got[16];
	int n = records_of(sk, EV_STATE, got, 16);
	bool ok = ASSERT_EQ(n, n_want - 1, who);

	for (int i = 0; ok && i < n; i++) {
		ok &= ASSERT_EQ(got[i]->oldstate, want[i], who);
		ok &= ASSERT_EQ(got[i]->newstate, want[i + 1], who);
		if (i)
			ok &= ASSERT_LE(got[i - 1]->ts_ns, got[i]->ts_ns, who);
	}
	return ok;
}

#define ASSERT_WITHIN(v, lo, hi, name)               \
	({                                           \
		bool ___ge = ASSERT_GE(v, lo, name); \
		bool ___le = ASSERT_LE(v, hi, name); \
		___ge &&___le;                       \
	})

/* ---- timewait ---- */

struct tuple_arg {
	__u16 sport, dport;
	int old, new; /* EV_STATE: the change awaited */
	int type;
	__u64 id; /* 0, else that socket's */
	__u8 flags; /* those the record must have */
};

static bool have_record(const void *p)
{
	const struct tuple_arg *a = p;

	for (int i = 0; i < env.n_recs; i++) {
		const struct event *e = &env.recs[i];

		if (e->type == a->type && (!a->id || e->id == a->id) &&
		    (e->flags & a->flags) == a->flags && tuple_is(e, a->sport, a->dport) &&
		    (a->type != EV_STATE || (e->oldstate == a->old && e->newstate == a->new)))
			return true;
	}
	return false;
}

/*
 * A connection whose client half-closes (shutdown(SHUT_WR)) and stays a
 * full socket: FIN_WAIT1 in the shutdown(), FIN_WAIT2 at the server's ACK,
 * TIME_WAIT at its FIN: a tw sock armed for 60 s takes over, then the
 * socket's "-> CLOSE" names it. Killed then, its timer is cancelled.
 */
static void timewait_half_close(void)
{
	static const int want[] = { TS_CLOSE,	  TS_SYN_SENT,	TS_ESTABLISHED,
				    TS_FIN_WAIT1, TS_FIN_WAIT2, TS_CLOSE };
	const __u16 port = 7501;
	int lfd = -1, cfd = -1, sfd = -1;
	__u64 t[3], t_conn0, t_conn1, t_shut0, t_shut1, t_fin0, t_eof;
	const struct event *syn, *est, *fw1, *fw2, *cls, *tw, *cancel, *got[8] = {};
	struct tuple_arg arg;
	char c;
	__u16 cport;
	int n;

	if (!netns_enter())
		return;
	if (!connect_pair(port, &lfd, &cfd, &sfd, t))
		goto out;
	t_conn0 = t[0];
	t_conn1 = t[1];
	cport = local_port(cfd);
	t_shut0 = now_ns();
	if (!ASSERT_OK(shutdown(cfd, SHUT_WR), "shutdown(SHUT_WR)"))
		goto out;
	t_shut1 = now_ns();
	if (!ASSERT_EQ(read(sfd, &c, 1), 0, "server reads the client's FIN"))
		goto out;
	t_fin0 = now_ns();
	close(sfd);
	sfd = -1;
	if (!ASSERT_EQ(read(cfd, &c, 1), 0, "client reads the server's FIN"))
		goto out;
	t_eof = now_ns();
	arg = (struct tuple_arg){ cport, port, TS_FIN_WAIT2, TS_CLOSE, EV_STATE, 0, 0 };
	if (!ASSERT_TRUE(wait_for(have_record, &arg), "the client's FIN_WAIT2 -> CLOSE"))
		goto out;

	est = find(EV_STATE, cport, port, TS_SYN_SENT, TS_ESTABLISHED);
	if (!ASSERT_OK_PTR(est, "the client's SYN_SENT -> ESTABLISHED") ||
	    !states_are("client states", est->id, want, 6))
		goto out;
	n = records_of(est->id, EV_STATE, got, 8);
	syn = got[0], fw1 = got[2], fw2 = got[3], cls = got[4];
	/* connect() moves it to SYN_SENT before it picks the local port */
	ASSERT_EQ(syn->dport, port, "SYN_SENT: the server's port");
	ASSERT_EQ(n, 5, "client state records");
	ASSERT_WITHIN(syn->ts_ns, t_conn0, t_conn1, "SYN_SENT within connect()");
	ASSERT_WITHIN(est->ts_ns, t_conn0, t_conn1, "ESTABLISHED within connect()");
	ASSERT_WITHIN(fw1->ts_ns, t_shut0, t_shut1, "FIN_WAIT1 within shutdown()");
	by_us("FIN_WAIT1 by this process, in shutdown()", fw1);
	ASSERT_LE(fw2->ts_ns, t_eof, "FIN_WAIT2 before the server's FIN is read");
	ASSERT_WITHIN(cls->ts_ns, t_fin0, t_eof, "-> CLOSE after the server's close()");
	ASSERT_EQ(cls->err, 0, "no socket error");
	ASSERT_NEQ(cls->aux, 0, "-> CLOSE names the tw sock that took over");

	/* the tw sock's first arming: TIME_WAIT, 60 s, before the socket's close */
	n = records_of(cls->aux, EV_TW_START, got, 8);
	if (!ASSERT_EQ(n, 1, "TW_START records of the tw sock"))
		goto out;
	tw = got[0];
	ASSERT_TRUE(tuple_is(tw, cport, port), "TW_START on the client's tuple");
	ASSERT_TRUE(tw->flags & EVF_FIRST_ARM, "TW_START is the first arming");
	ASSERT_EQ(tw->newstate, TS_TIME_WAIT, "tw substate");
	ASSERT_WITHIN(tw->ts_ns, fw2->ts_ns, cls->ts_ns, "armed between FIN_WAIT2 and CLOSE");
	ASSERT_WITHIN(tw->aux - tw->ts_ns, TCP_TIMEWAIT_LEN_NS - 2 * env.jiffy_ns,
		      TCP_TIMEWAIT_LEN_NS + 2 * env.jiffy_ns, "TIME_WAIT timer: 60 s");

	/* its end: killed as ss -K does, the timer cancelled then, not a reuse */
	__u64 t_kill0 = now_ns();
	int err = sock_destroy(cport, port);
	__u64 t_kill1 = now_ns();

	if (err == -EOPNOTSUPP) {
		printf("  note: no SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY): the kill is not "
		       "checked\n");
		goto out;
	}
	if (!ASSERT_OK(err, "SOCK_DESTROY the tw sock"))
		goto out;

	arg = (struct tuple_arg){ cport, port, 0, 0, EV_TW_CANCEL, cls->aux, 0 };
	if (!ASSERT_TRUE(wait_for(have_record, &arg), "the tw sock's TW_CANCEL"))
		goto out;
	n = records_of(cls->aux, EV_TW_CANCEL, got, 8);
	ASSERT_EQ(n, 1, "TW_CANCEL records");
	cancel = got[0];
	ASSERT_WITHIN(cancel->ts_ns, t_kill0, t_kill1, "cancelled within SOCK_DESTROY");
	ASSERT_FALSE(cancel->flags & EVF_CONNECTING, "not a reuse by connect()");
	ASSERT_EQ(records_of(cls->aux, EV_TW_EXPIRE, got, 8), 0, "no expiry");
	ASSERT_EQ(sock_destroy(cport, port), -ENOENT, "the tw sock is gone");
out:
	close_pair(lfd, cfd, sfd);
	netns_leave();
}

/* probe_tw on one tw sock: 0, -ENOENT when it no longer is that one. */
static int probe_tw(__u64 tw, struct tw_probe *out)
{
	struct tw_probe *p = &env.skel->bss->tw_probe_out;
	__u64 args[1] = { tw };
	LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = args, .ctx_size_in = sizeof(args));

	memset(p, 0, sizeof(*p));
	if (bpf_prog_test_run_opts(bpf_program__fd(env.skel->progs.probe_tw), &topts))
		return -errno;
	*out = *p;
	return p->valid && p->tw == tw ? 0 : -ENOENT;
}

struct tw_wait {
	__u64 tw;
	struct tw_probe got;
};

static bool tw_in_time_wait(const void *p)
{
	struct tw_wait *w = (struct tw_wait *)p;

	return !probe_tw(w->tw, &w->got) && w->got.substate == TS_TIME_WAIT;
}

/*
 * The client close()s first: an orphan, whose FIN_WAIT2 the kernel moves
 * into a tw sock at once (first armed in substate FIN_WAIT2); the server's
 * FIN flips it to TIME_WAIT, which a re-arm in the same timer bucket does
 * not report: read it with probe_tw as tcpphase does.
 */
static void timewait_orphan(void)
{
	static const int want[] = { TS_CLOSE,	  TS_SYN_SENT,	TS_ESTABLISHED,
				    TS_FIN_WAIT1, TS_FIN_WAIT2, TS_CLOSE };
	const __u16 port = 7502;
	int lfd = -1, cfd = -1, sfd = -1;
	const struct event *est, *cls, *fw1, *fw2, *tw, *got[8] = {};
	__u64 t_close0, t_close1, t_srv0;
	struct tuple_arg arg;
	struct tw_wait w = {};
	__u16 cport;
	char c;
	int n;

	if (!netns_enter())
		return;
	lfd = listen_on(port);
	if (!ASSERT_GE(lfd, 0, "listen"))
		goto out;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!ASSERT_GE(cfd, 0, "socket"))
		goto out;
	struct sockaddr_in a = loopback(port);
	if (!ASSERT_OK(connect(cfd, (struct sockaddr *)&a, sizeof(a)), "connect"))
		goto out;
	sfd = accept(lfd, NULL, NULL);
	if (!ASSERT_GE(sfd, 0, "accept"))
		goto out;
	cport = local_port(cfd);
	t_close0 = now_ns();
	close(cfd);
	cfd = -1;
	t_close1 = now_ns();
	/* the server's ACK (maybe delayed) ends FIN_WAIT1: the orphan closes */
	arg = (struct tuple_arg){ cport, port, TS_FIN_WAIT2, TS_CLOSE, EV_STATE, 0, 0 };
	if (!ASSERT_TRUE(wait_for(have_record, &arg), "the orphan's FIN_WAIT2 -> CLOSE"))
		goto out;
	est = find(EV_STATE, cport, port, TS_SYN_SENT, TS_ESTABLISHED);
	if (!ASSERT_OK_PTR(est, "the client's SYN_SENT -> ESTABLISHED") ||
	    !states_are("client states", est->id, want, 6))
		goto out;
	records_of(est->id, EV_STATE, got, 8);
	fw1 = got[2], fw2 = got[3], cls = got[4];
	ASSERT_WITHIN(fw1->ts_ns, t_close0, t_close1, "FIN_WAIT1 within close()");
	by_us("FIN_WAIT1 by this process, in close()", fw1);
	ASSERT_NEQ(cls->aux, 0, "-> CLOSE names the tw sock that took over");
	n = records_of(cls->aux, EV_TW_START, got, 8);
	if (!ASSERT_EQ(n, 1, "TW_START records of the tw sock"))
		goto out;
	tw = got[0];
	ASSERT_TRUE(tuple_is(tw, cport, port), "TW_START on the client's tuple");
	ASSERT_TRUE(tw->flags & EVF_FIRST_ARM, "TW_START is the first arming");
	ASSERT_EQ(tw->newstate, TS_FIN_WAIT2, "tw substate: the orphan's FIN_WAIT2");
	ASSERT_WITHIN(tw->ts_ns, fw2->ts_ns, cls->ts_ns, "armed between FIN_WAIT2 and CLOSE");
	ASSERT_WITHIN(tw->aux, tw->ts_ns, tw->ts_ns + TCP_TIMEWAIT_LEN_NS + 2 * env.jiffy_ns,
		      "FIN_WAIT2 timer: tcp_fin_timeout, at most 60 s");

	/* the server's FIN turns the tw sock to TIME_WAIT, for 60 s from then */
	ASSERT_EQ(read(sfd, &c, 1), 0, "server reads the client's FIN");
	t_srv0 = now_ns();
	close(sfd);
	sfd = -1;
	w.tw = cls->aux;
	if (!ASSERT_TRUE(wait_for(tw_in_time_wait, &w), "probe_tw reads TIME_WAIT"))
		goto out;
	ASSERT_EQ(w.got.sport, cport, "probe_tw sport");
	ASSERT_EQ(w.got.dport, port, "probe_tw dport");
	ASSERT_WITHIN(w.got.expires_ns, t_srv0 + TCP_TIMEWAIT_LEN_NS - 2 * env.jiffy_ns,
		      now_ns() + TCP_TIMEWAIT_LEN_NS + 2 * env.jiffy_ns,
		      "TIME_WAIT: 60 s from the server's FIN");
	/* a re-arm that was reported: its start says TIME_WAIT */
	n = records_of(cls->aux, EV_TW_START, got, 8);
	for (int i = 1; i < n; i++) {
		ASSERT_FALSE(got[i]->flags & EVF_FIRST_ARM, "a re-arm");
		ASSERT_EQ(got[i]->newstate, TS_TIME_WAIT, "re-armed in TIME_WAIT");
	}
	n = sock_destroy(cport, port);
	if (n == -EOPNOTSUPP || !ASSERT_OK(n, "SOCK_DESTROY the tw sock"))
		goto out; /* without SOCK_DESTROY the netns's end takes it */
	arg = (struct tuple_arg){ cport, port, 0, 0, EV_TW_CANCEL, cls->aux, 0 };
	ASSERT_TRUE(wait_for(have_record, &arg), "the tw sock's TW_CANCEL at its kill");
	ASSERT_EQ(records_of(cls->aux, EV_TW_EXPIRE, got, 8), 0, "no expiry");
	/* freed: unless its memory already serves another tw sock, elsewhere */
	n = probe_tw(cls->aux, &w.got);
	ASSERT_TRUE(n == -ENOENT || w.got.sport != cport || w.got.dport != port, "probe_tw: gone");
out:
	close_pair(lfd, cfd, sfd);
	netns_leave();
}

static void test_timewait(void)
{
	__u64 drops = rb_drops(); /* before: not this test's */

	if (SUBTEST("half_close"))
		timewait_half_close();
	if (SUBTEST("orphan"))
		timewait_orphan();
	ASSERT_EQ(rb_drops() - drops, 0, "ring buffer drops during the test");
	ASSERT_EQ(env.overflow, 0, "records kept");
}

/* ---- handshake ---- */

/*
 * A passive handshake: the SYN arms the request sock's timer (REQ_START,
 * the SYN's arrival), the final ACK cancels it (REQ_CANCEL) and the child
 * goes SYN_RECV -> ESTABLISHED, all on the same tuple. connect() returns
 * once the client is ESTABLISHED; accept() not before the child is (it
 * waits for the socket lock the softirq holds while it sets the state).
 */
static void handshake_passive(void)
{
	const __u16 port = 7503;
	int lfd = -1, cfd = -1, sfd = -1;
	const struct event *lst, *req, *cancel, *child, *client, *got[8] = {};
	__u64 t[3], t_conn0, t_conn1, t_acc1;
	struct tuple_arg arg;
	__u16 cport;
	int n;

	if (!netns_enter())
		return;
	if (!connect_pair(port, &lfd, &cfd, &sfd, t))
		goto out;
	t_conn0 = t[0];
	t_conn1 = t[1];
	t_acc1 = t[2];
	cport = local_port(cfd);
	arg = (struct tuple_arg){ port, cport, TS_SYN_RECV, TS_ESTABLISHED, EV_STATE, 0, 0 };
	if (!ASSERT_TRUE(wait_for(have_record, &arg), "the child's SYN_RECV -> ESTABLISHED"))
		goto out;
	arg = (struct tuple_arg){ port, cport, 0, 0, EV_REQ_CANCEL, 0, 0 };
	if (!ASSERT_TRUE(wait_for(have_record, &arg), "the request's REQ_CANCEL"))
		goto out;

	lst = find_listener(port);
	req = find(EV_REQ_START, port, cport, 0, 0);
	child = find(EV_STATE, port, cport, TS_SYN_RECV, TS_ESTABLISHED);
	client = find(EV_STATE, cport, port, TS_SYN_SENT, TS_ESTABLISHED);
	if (!ASSERT_OK_PTR(lst, "the listener's CLOSE -> LISTEN") ||
	    !ASSERT_OK_PTR(req, "REQ_START on the tuple") ||
	    !ASSERT_OK_PTR(client, "the client's ESTABLISHED"))
		goto out;
	/* one request, armed once (no SYN-ACK retransmit), for the listener */
	n = records_of(req->id, 0, got, 8);
	if (!ASSERT_EQ(n, 2, "the request's records: REQ_START, REQ_CANCEL"))
		goto out;
	cancel = got[1];
	ASSERT_EQ(got[0]->type, EV_REQ_START, "first: the SYN");
	ASSERT_EQ(cancel->type, EV_REQ_CANCEL, "then: its end");
	ASSERT_TRUE(tuple_is(cancel, port, cport), "REQ_CANCEL on the tuple");
	ASSERT_EQ(req->newstate, TS_NEW_SYN_RECV, "request state");
	by_us("LISTEN by this process, in listen()", lst);
	ASSERT_EQ(req->aux, lst->id, "REQ_START names the listener");
	ASSERT_EQ(req->retrans, 0, "no SYN-ACK retransmit");
	ASSERT_FALSE(req->flags & EVF_SYNCOOKIE, "not a syncookie");
	ASSERT_NEQ(child->id, req->id, "the child is a full socket of its own");
	ASSERT_EQ(child->netns, req->netns, "same netns");
	ASSERT_EQ(records_of(child->id, EV_STATE, got, 8), 2,
		  "the child's changes: LISTEN -> SYN_RECV -> ESTABLISHED");
	ASSERT_EQ(got[0]->oldstate, TS_LISTEN, "child cloned from the listener");
	ASSERT_EQ(got[0]->newstate, TS_SYN_RECV, "child born in SYN_RECV");

	/* causal order: SYN in, client ESTABLISHED, request ends, child ESTABLISHED */
	ASSERT_WITHIN(req->ts_ns, t_conn0, t_conn1, "SYN received within connect()");
	ASSERT_WITHIN(client->ts_ns, req->ts_ns, t_conn1, "client ESTABLISHED after the SYN");
	ASSERT_WITHIN(cancel->ts_ns, client->ts_ns, child->ts_ns, "request ends at the ACK");
	ASSERT_LE(req->ts_ns, child->ts_ns, "SYN received <= ESTABLISHED");
	ASSERT_LE(child->ts_ns, t_acc1, "child ESTABLISHED before accept() returns");
	ASSERT_WITHIN(child->ts_ns - req->ts_ns, 0, t_acc1 - t_conn0,
		      "passive handshake within connect() .. accept()");
out:
	close_pair(lfd, cfd, sfd);
	netns_leave();
}

static void test_handshake(void)
{
	__u64 drops = rb_drops(); /* before: not this test's */

	if (SUBTEST("passive"))
		handshake_passive();
	ASSERT_EQ(rb_drops() - drops, 0, "ring buffer drops during the test");
	ASSERT_EQ(env.overflow, 0, "records kept");
}

/* ---- main ---- */

static int summary(void)
{
	printf("SUMMARY: %d passed, %d failed, %d skipped\n", unit.passed, unit.failed,
	       env.skipped);
	fflush(stdout);
	return unit.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *ci = getenv("CI");

	unit_init(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		bool fail = ci && !strcmp(ci, "true");

		printf("%s progs: needs root (BPF, network namespaces)\n", fail ? "FAIL" : "skip");
		if (fail)
			unit.failed++;
		else
			env.skipped++;
		return summary();
	}
	env.host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	unit.test = "setup";
	unit.test_ok = true;
	if (!ASSERT_GE(env.host_netns, 0, "open the host's netns") || !setup()) {
		unit_line("setup", NULL, false);
		goto out;
	}
	RUN_TEST(test_timewait);
	RUN_TEST(test_handshake);
out:
	ring_buffer__free(env.rb);
	tcpphase_bpf__destroy(env.skel);
	return summary();
}
