// SPDX-License-Identifier: GPL-2.0
/*
 * ksyms.c - resolve the static timer handlers that tcpphase filters on
 * (tw_timer_handler, reqsk_timer_handler). They are address-taken, so
 * they always have a symbol; BPF gets the addresses as const volatiles.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ksyms.h"

int ksyms_lookup(const char *const *names, uint64_t *addrs, int n)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512];
	int found = 0;
	bool hidden = false;

	if (!f)
		return -errno;
	memset(addrs, 0, n * sizeof(*addrs));
	while (found < n && fgets(line, sizeof(line), f)) {
		char type, name[256];
		uint64_t addr;

		if (sscanf(line, "%" SCNx64 " %c %255s", &addr, &type, name) != 3)
			continue;
		for (int i = 0; i < n; i++) {
			if (!addrs[i] && !strcmp(name, names[i])) {
				addrs[i] = addr;
				found += addr != 0;
				hidden |= addr == 0;
			}
		}
	}
	fclose(f);
	/* listed with address 0: kptr_restrict hides them from us */
	return found < n && hidden ? -EPERM : found;
}

int ksyms_range(const char *name, uint64_t *lo, uint64_t *hi)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512];

	if (!f)
		return -errno;
	*lo = *hi = 0;
	/* kallsyms is not sorted as a whole: the end is the nearest start above */
	while (fgets(line, sizeof(line), f)) {
		char type, sym[256];
		uint64_t addr;

		if (sscanf(line, "%" SCNx64 " %c %255s", &addr, &type, sym) != 3)
			continue;
		if (!*lo && !strcmp(sym, name)) {
			*lo = addr;
			if (!addr)
				break;
			rewind(f);
		} else if (*lo && addr > *lo && (!*hi || addr < *hi)) {
			*hi = addr;
		}
	}
	fclose(f);
	if (!*lo)
		return -ENOENT;
	return *hi ? 0 : -ENOENT;
}
