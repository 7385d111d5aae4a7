// SPDX-License-Identifier: GPL-2.0
/*
 * gauges.c - endpoints per TCP state now: a sock_diag count at start in
 * every network namespace we can enter (as ss(8) would count them there),
 * then the changes the BPF programs count (bpf/gauges.bpf.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfstats.h"
#include "gauges.h"
#include "sockdiag.h"
#include "tcpphase.skel.h"
#include "tracer.h"

#define MAX_NETNS 4096

/* What a count of one namespace's sockets needs. */
struct count_ctx {
	const struct options *o;
	int64_t *base;
};

/* One socket of a dump into base[], if the port filters take it. */
static int count_one(const struct inet_diag_msg *m, void *ctx)
{
	struct count_ctx *c = ctx;
	int st = m->idiag_state == TS_NEW_SYN_RECV ? TS_SYN_RECV : m->idiag_state;

	if (st > 0 && st < GAUGE_SLOTS &&
	    tuple_filtered(c->o, m->idiag_family, ntohs(m->id.idiag_sport),
			   ntohs(m->id.idiag_dport)))
		c->base[st]++;
	return 0;
}

/* Count the current netns's TCP sockets into base[]: 0 or -errno. */
static int count_netns(const struct options *o, int64_t base[GAUGE_SLOTS])
{
	const uint32_t all = ~0U & ~(1U << TS_CLOSE);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	struct count_ctx c = { o, base };
	int err = 0;

	if (fd < 0)
		return -errno;
	if (o->family != AF_INET6)
		err = sockdiag_dump(fd, AF_INET, all, count_one, &c);
	if (!err && o->family != AF_INET)
		err = sockdiag_dump(fd, AF_INET6, all, count_one, &c);
	close(fd);
	return err;
}

/* Remember ns's inode in seen[] (n of them); false if it was there already. */
static bool first_sight(ino_t ino, ino_t *seen, int *n)
{
	for (int i = 0; i < *n; i++)
		if (seen[i] == ino)
			return false;
	if (*n < MAX_NETNS)
		seen[(*n)++] = ino;
	return true;
}

/* What a snapshot saw of the namespaces: read, or not entered (no CAP_SYS_ADMIN). */
struct ns_tally {
	ino_t *seen;
	int n_seen;
	int n_read;
	int n_denied;
	bool moved; /* this thread left its own namespace */
};

/* Enter the netns at path (once per namespace) and count it. */
static void count_at(const char *path, const struct options *o, int64_t base[GAUGE_SLOTS],
		     struct ns_tally *n)
{
	struct stat st;
	int fd;

	if (stat(path, &st) || !first_sight(st.st_ino, n->seen, &n->n_seen))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		n->n_denied++;
		return;
	}
	if (setns(fd, CLONE_NEWNET)) {
		n->n_denied++;
	} else {
		n->moved = true;
		if (!count_netns(o, base))
			n->n_read++;
	}
	close(fd);
}

int gauges_snapshot(const struct tracer *t, int64_t base[GAUGE_SLOTS], int *denied)
{
	struct ns_tally n = { .seen = calloc(MAX_NETNS, sizeof(ino_t)) };
	char path[300];
	struct stat st;
	struct dirent *d;
	int self, err;
	DIR *dir;

	memset(base, 0, GAUGE_SLOTS * sizeof(*base));
	*denied = 0;
	if (!n.seen)
		return -ENOMEM;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	/* our own namespace first: the one count that must succeed */
	err = self < 0 ? -errno : count_netns(t->opts, base);
	if (err) {
		free(n.seen);
		if (self >= 0)
			close(self);
		return err;
	}
	n.n_read = 1;
	if (!fstat(self, &st))
		first_sight(st.st_ino, n.seen, &n.n_seen);
	/* the others: named ones (ip netns) and those of every process */
	dir = opendir("/var/run/netns");
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/var/run/netns/%s", d->d_name);
		count_at(path, t->opts, base, &n);
	}
	if (dir)
		closedir(dir);
	dir = opendir("/proc");
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", d->d_name);
		count_at(path, t->opts, base, &n);
	}
	if (dir)
		closedir(dir);
	if (n.moved && setns(self, CLONE_NEWNET))
		err = -errno; /* cannot happen: it is where we were */
	close(self);
	free(n.seen);
	*denied = n.n_denied;
	return err ? err : n.n_read;
}

/*
 * How many tw socks counted as an orphan's FIN_WAIT2 are in TIME_WAIT by
 * now: the peer's FIN turns one over with no timer event when its re-arm
 * stays in the same timer-wheel bucket. Each is asked directly (probe_tw);
 * there are few: orphans whose peer has not closed yet, or just did.
 */
static int64_t orphans_flipped(struct tracer *t)
{
	int fd = bpf_map__fd(t->skel->maps.tw_gauge);
	__u64 keys[1024], batch = 0;
	__u8 vals[1024];
	int64_t flipped = 0;
	bool first = true;

	for (;;) {
		__u32 n = sizeof(keys) / sizeof(keys[0]);
		int err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &n,
					       NULL);

		first = false;
		for (__u32 i = 0; i < n; i++) {
			__u64 expires;
			uint8_t sub;

			if (vals[i] == TS_FIN_WAIT2 && !probe_tw(t, keys[i], &sub, &expires) &&
			    sub == TS_TIME_WAIT)
				flipped++;
		}
		if (err)
			break; /* -ENOENT: the last batch */
	}
	return flipped;
}

int gauges_read(struct tracer *t, const int64_t base[GAUGE_SLOTS], int64_t now[GAUGE_SLOTS])
{
	uint64_t delta[GAUGE_SLOTS];
	int err = percpu_counters_read(bpf_map__fd(t->skel->maps.state_gauge), delta, GAUGE_SLOTS);
	int64_t flipped;

	if (err)
		return err;
	for (int i = 0; i < GAUGE_SLOTS; i++)
		now[i] = base[i] + (int64_t)delta[i];
	flipped = orphans_flipped(t);
	now[TS_FIN_WAIT2] -= flipped;
	now[TS_TIME_WAIT] += flipped;
	return 0;
}
