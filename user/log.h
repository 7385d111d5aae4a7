/* SPDX-License-Identifier: GPL-2.0 */
/*
 * log.h - warnings and errors on their way to the edge. Set-up and the
 * loop's helpers add lines here and return (an error as their return
 * value); main and the live loop's once-a-second pass print them, in the
 * order they came, once each, as "tcpphase: <line>" on stderr
 * (format.h's verror_line). No module below the edge prints or exits.
 */
#ifndef __LOG_H
#define __LOG_H

#include <stdio.h>

#define LOG_LINES 16
#define LOG_LINE_LEN 1024

struct log {
	char line[LOG_LINES][LOG_LINE_LEN];
	int n;
	unsigned int dropped; /* lines past LOG_LINES: said at the print */
};

/* A warning: tracing goes on. The line reads "warning: <fmt>". */
void __attribute__((format(printf, 2, 3))) log_warn(struct log *l, const char *fmt, ...);
/* An error; returns err, so that a caller reads `return log_err(l, -EIO, ...)`. */
int __attribute__((format(printf, 3, 4))) log_err(struct log *l, int err, const char *fmt, ...);
/* A line for -v: what was found, neither wrong nor missing. */
void __attribute__((format(printf, 2, 3))) log_note(struct log *l, const char *fmt, ...);
/* Print every line held (stderr), then forget them; the edge calls this. */
void log_print(struct log *l);

#endif /* __LOG_H */
