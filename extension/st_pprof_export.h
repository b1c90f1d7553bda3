/*
 * st_pprof_export.h
 *	  StTree to a gzipped pprof profile (profile.proto), readable by
 *	  `go tool pprof`, speedscope and every other pprof consumer.
 */
#ifndef ST_PPROF_EXPORT_H
#define ST_PPROF_EXPORT_H

#include "st_tree.h"

/*
 * Encode t as a gzipped profile.proto: one sample type per column (type
 * and unit kept), period type, period, time, duration and the default
 * sample type from the header; one Function and one Location (one Line)
 * per distinct frame name; one Sample per node with a non-zero self value,
 * its location ids leaf first.  Returns a buffer allocated with st_alloc.
 */
extern uint8_t *st_tree_to_pprof(const StTree *t, size_t *out_len,
								 StError *err);

#endif							/* ST_PPROF_EXPORT_H */
