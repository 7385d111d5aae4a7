/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hz.h - the kernel's HZ from two reads of jiffies and the monotonic clock,
 * so that timer expiries (in jiffies) turn into times without a kernel
 * config file.
 */
#ifndef __HZ_H
#define __HZ_H

#include <stdint.h>

#define NSEC_PER_SEC 1000000000ULL

/* Shortest interval between the two reads that tells 250 from 300. */
#define HZ_MIN_INTERVAL_NS 50000000ULL

unsigned int hz_from_jiffies(uint64_t jiffies_delta, uint64_t interval_ns);

#endif /* __HZ_H */
