/*
 * pg_retention.h
 *	  Retention background workers (pg_retention_worker.c): GUCs and the
 *	  launcher registration, called from _PG_init.
 */
#ifndef PG_RETENTION_H
#define PG_RETENTION_H

/*
 * Define the stackhouse.* retention GUCs and, when the library is being
 * loaded by shared_preload_libraries, register the launcher bgworker.
 */
extern void stackhouse_retention_init(void);

#endif							/* PG_RETENTION_H */
