// SPDX-License-Identifier: GPL-2.0
/*
 * btfprobe.c - what the running kernel has, read from its BTF: a
 * tracepoint, its arguments, a drop reason. The loader decides by these
 * which programs to load (never by kernel version).
 */
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#include "btfprobe.h"

/* Does the running kernel's BTF know tracepoint tp (its btf_trace_<tp> typedef)? */
bool kernel_has_tracepoint(const struct btf *vmlinux, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return vmlinux && btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

/* Arguments of tracepoint tp's BTF prototype (the first is the context), or -1. */
int tracepoint_args(const struct btf *vmlinux, const char *tp)
{
	const struct btf_type *t;
	char name[128];
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = vmlinux ? btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) : -1;
	if (id <= 0)
		return -1;
	t = btf__type_by_id(vmlinux, id);
	t = t ? btf__type_by_id(vmlinux, t->type) : NULL; /* the pointer */
	t = t && btf_is_ptr(t) ? btf__type_by_id(vmlinux, t->type) : NULL;
	return t && btf_is_func_proto(t) ? btf_vlen(t) : -1;
}

/* Does the kernel's enum skb_drop_reason have the value named name? */
bool kernel_has_drop_reason(const struct btf *vmlinux, const char *name)
{
	const struct btf_type *t;
	const struct btf_enum *en;
	int id;

	id = vmlinux ? btf__find_by_name_kind(vmlinux, "skb_drop_reason", BTF_KIND_ENUM) : -1;
	if (id <= 0)
		return false;
	t = btf__type_by_id(vmlinux, id);
	en = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++, en++)
		if (!strcmp(btf__name_by_offset(vmlinux, en->name_off), name))
			return true;
	return false;
}
