/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fixtures.h - records shared by the unit tests of the sinks (summary,
 * metrics): time units in ns and a finished connection to start from.
 */
#ifndef __FIXTURES_H
#define __FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conntable.h"

#define US 1000LL
#define MS 1000000LL
#define S 1000000000LL

/* A finished active connection: ok handshake, TIME_WAIT expired, no phase timed. */
static inline struct conn mk(void)
{
	struct conn c;

	memset(&c, 0, sizeof(c));
	c.family = AF_INET;
	c.role = ROLE_ACTIVE;
	c.result = RES_OK;
	c.tw_end = TWE_EXPIRED;
	c.pid = 100;
	memcpy(c.comm, "curl", 5);
	c.lport = 40000;
	c.rport = 80;
	c.raddr[0] = 10;
	c.raddr[3] = 1;
	for (int p = 0; p < PH_MAX; p++)
		c.ph[p] = -1;
	return c;
}

/*
 * A cgroup tree in a temporary directory for cg_new(root): a cgroup's id is
 * its directory's inode number, as in the cgroup2 file system.
 */
struct fake_cg {
	char root[64];
};

static inline int fake_cg_make(struct fake_cg *f)
{
	snprintf(f->root, sizeof(f->root), "/tmp/tcpphase-fake-cg.XXXXXX");
	return mkdtemp(f->root) ? 0 : -1;
}

/* Make rel ("/a/b", parents included) below the root: its id, 0 on failure. */
static inline uint64_t fake_cg_dir(const struct fake_cg *f, const char *rel)
{
	char p[512];
	struct stat st;
	int n = snprintf(p, sizeof(p), "%s", f->root);

	for (const char *r = rel; *r; r++) {
		if (*r == '/' && r != rel)
			mkdir(p, 0755);
		if (n + 1 < (int)sizeof(p)) {
			p[n++] = *r;
			p[n] = 0;
		}
	}
	mkdir(p, 0755);
	return stat(p, &st) ? 0 : st.st_ino;
}

static inline void fake_cg_remove(const struct fake_cg *f)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", f->root);
}

#endif /* __FIXTURES_H */
