// SPDX-License-Identifier: GPL-2.0
/*
 * sink.c - the output stream shared by the sinks: errors are remembered once
 * (the first errno wins) so that the caller reports them once, at the edge.
 */
#include <errno.h>

#include "sink.h"

int out_flush(struct out *o)
{
	if (fflush(o->f) || ferror(o->f)) {
		if (!o->err)
			o->err = errno ? errno : EIO;
	}
	return o->err;
}
