/*
 * unit.h
 *	  A header-only helper for the C unit tests: CHECK(cond) counts passes
 *	  and failures (printing file:line for each failure), unit_summary()
 *	  prints "N passed, N failed" and returns the process exit status.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

static int	unit_passed = 0;
static int	unit_failed = 0;

#define CHECK(cond) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", \
					__FILE__, __LINE__, #cond); \
		} \
	} while (0)

/* CHECK with a printf-style explanation on failure */
#define CHECKF(cond, ...) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", \
					__FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
		} \
	} while (0)

static inline int
unit_summary(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif							/* UNIT_H */
