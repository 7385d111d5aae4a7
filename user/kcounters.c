// SPDX-License-Identifier: GPL-2.0
/*
 * kcounters.c - read TcpExt TW, TWKilled, TWRecycled, TCPTimeWaitOverflow
 * from /proc/net/netstat (a header line of names, then a line of values)
 * and the live tw count from /proc/net/sockstat.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcounters.h"

static void pick(const char *name, uint64_t v, struct kcounters *k)
{
	if (!strcmp(name, "TW"))
		k->tw = v;
	else if (!strcmp(name, "TWKilled"))
		k->tw_killed = v;
	else if (!strcmp(name, "TWRecycled"))
		k->tw_recycled = v;
	else if (!strcmp(name, "TCPTimeWaitOverflow"))
		k->tw_overflow = v;
}

static int read_netstat(struct kcounters *k)
{
	FILE *f = fopen("/proc/net/netstat", "re");
	char *names = NULL, *vals = NULL;
	size_t nlen = 0, vlen = 0;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&names, &nlen, f) > 0 && getline(&vals, &vlen, f) > 0) {
		char *sn, *sv, *n, *v;

		if (strncmp(names, "TcpExt:", 7) || strncmp(vals, "TcpExt:", 7))
			continue;
		n = strtok_r(names + 7, " \n", &sn);
		v = strtok_r(vals + 7, " \n", &sv);
		while (n && v) {
			pick(n, strtoull(v, NULL, 10), k);
			n = strtok_r(NULL, " \n", &sn);
			v = strtok_r(NULL, " \n", &sv);
		}
		ret = 0;
		break;
	}
	free(names);
	free(vals);
	fclose(f);
	return ret;
}

static int read_sockstat(struct kcounters *k)
{
	FILE *f = fopen("/proc/net/sockstat", "re");
	char line[256];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *tw = strstr(line, " tw ");

		if (!strncmp(line, "TCP:", 4) && tw)
			k->tw_live = strtoull(tw + 4, NULL, 10);
	}
	fclose(f);
	return 0;
}

int kcounters_read(struct kcounters *k)
{
	int err;

	memset(k, 0, sizeof(*k));
	err = read_netstat(k);
	if (err)
		return err;
	return read_sockstat(k);
}
