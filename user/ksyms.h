/* SPDX-License-Identifier: GPL-2.0 */
/* ksyms.h - kernel symbol addresses, from /proc/kallsyms. */
#ifndef __KSYMS_H
#define __KSYMS_H

#include <stdint.h>

/*
 * Look up n names at once; addrs[i] is 0 where a name is missing (or
 * hidden by kptr_restrict). Returns the number found, -EPERM when some are
 * listed but hidden (kernel.kptr_restrict, no CAP_SYSLOG), -errno on I/O error.
 */
int ksyms_lookup(const char *const *names, uint64_t *addrs, int n);

/*
 * The text of function name: [*lo, *hi), *hi the next symbol's start.
 * 0, -ENOENT (missing or hidden: *lo 0) or -errno.
 */
int ksyms_range(const char *name, uint64_t *lo, uint64_t *hi);

#endif /* __KSYMS_H */
