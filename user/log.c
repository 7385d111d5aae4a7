// SPDX-License-Identifier: GPL-2.0
/*
 * log.c - the lines of log.h, held until the edge prints them: a line is
 * formatted once, where it happens, and printed once, by main or the live
 * loop, so that no module below them writes to stderr on its own.
 */
#include <stdarg.h>

#include "format.h"
#include "log.h"

static void log_vadd(struct log *l, const char *prefix, const char *fmt, va_list ap)
{
	int n;

	if (l->n == LOG_LINES) {
		l->dropped++;
		return;
	}
	n = snprintf(l->line[l->n], LOG_LINE_LEN, "%s", prefix);
	vsnprintf(l->line[l->n] + n, LOG_LINE_LEN - n, fmt, ap);
	l->n++;
}

void log_warn(struct log *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vadd(l, "warning: ", fmt, ap);
	va_end(ap);
}

int log_err(struct log *l, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vadd(l, "", fmt, ap);
	va_end(ap);
	return err;
}

void log_note(struct log *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vadd(l, "", fmt, ap);
	va_end(ap);
}

static void error_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror_line(fmt, ap);
	va_end(ap);
}

void log_print(struct log *l)
{
	for (int i = 0; i < l->n; i++)
		error_line("%s", l->line[i]);
	if (l->dropped)
		error_line("%u more warnings or errors not shown", l->dropped);
	l->n = 0;
	l->dropped = 0;
}
