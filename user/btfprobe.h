/* SPDX-License-Identifier: GPL-2.0 */
/* btfprobe.h - what the running kernel has, from its BTF (vmlinux may be NULL). */
#ifndef __BTFPROBE_H
#define __BTFPROBE_H

#include <stdbool.h>

struct btf;

/* Does the kernel know tracepoint tp (its btf_trace_<tp> typedef)? */
bool kernel_has_tracepoint(const struct btf *vmlinux, const char *tp);
/* Arguments of tracepoint tp's prototype (the first is the context), or -1. */
int tracepoint_args(const struct btf *vmlinux, const char *tp);
/* Does the kernel's enum skb_drop_reason have the value named name? */
bool kernel_has_drop_reason(const struct btf *vmlinux, const char *name);

#endif /* __BTFPROBE_H */
