// SPDX-License-Identifier: GPL-2.0
/*
 * ct_owner.c - who owns an endpoint: the task that connected it, accept()ed
 * it (with --accept or -p, bpf/accept.bpf.h), or first acted on it in a
 * system call; a passive one starts as its listener's. A stronger source
 * replaces a weaker one, never the reverse (enum owner_src).
 */
#include <string.h>

#include "ct_internal.h"

/* Name the task that owns the endpoint, unless a stronger source named one. */
void take_owner(struct conn *c, uint32_t pid, const char *comm, enum owner_src src)
{
	if (!pid || src < c->owner_src)
		return;
	c->pid = pid;
	memcpy(c->comm, comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = '\0';
	c->owner_src = src;
}

/*
 * The first task seen acting on the socket in a system call owns it: the
 * connecting task, or for a passive socket the one that closes it (a
 * forked worker, not the listener's owner that was assumed at the join).
 */
void set_owner(struct conn *c, const struct event *e)
{
	if ((e->flags & EVF_PROC_CTX) && c->owner_src < OWNER_SYSCALL)
		take_owner(c, e->pid, e->comm, OWNER_SYSCALL);
}

/* accept() hands a passive socket over: its accept wait ends, its owner is known. */
void on_accept(struct conntable *t, const struct event *e)
{
	struct conn *c = sock_get(t, e->id);

	if (!c)
		return;
	take_owner(c, e->pid, e->comm, OWNER_ACCEPT);
	if (c->t_established && c->ph[PH_ACCEPT_WAIT] < 0)
		c->ph[PH_ACCEPT_WAIT] = dur(c->t_established, e->ts_ns);
	hand_out(t, c, false);
}
