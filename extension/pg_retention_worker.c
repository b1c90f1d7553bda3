/*
 * pg_retention_worker.c
 *	  Retention background workers.  With stackhouse in
 *	  shared_preload_libraries, a launcher starts one worker per database
 *	  listed in stackhouse.databases; each worker applies the retention
 *	  policies of its database by calling stackhouse.retention_batch() (the
 *	  job itself is SQL: sql/parts/60_retention.sql), one transaction per
 *	  batch, then sleeps stackhouse.naptime.  SIGHUP re-reads the
 *	  configuration (and starts a pass at once), SIGTERM stops the process
 *	  at the next interrupt check, an error is logged and backed off.  A
 *	  worker started for a database that already has one (e.g. after the
 *	  launcher restarted, its earlier workers live on) exits and says so in
 *	  shared memory: the launcher does not count that as a failure.
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "pg_retention.h"

PGDLLEXPORT void stackhouse_retention_launcher_main(Datum main_arg);
PGDLLEXPORT void stackhouse_retention_worker_main(Datum main_arg);

/* advisory lock (two-key form) held by the one worker of a database */
#define RETENTION_WORKER_LOCK_CLASS 1398033225
#define RETENTION_MAX_DATABASES 64
/* longest sleep after repeated failures */
#define RETENTION_MAX_BACKOFF_MS (3600 * 1000L)

/*
 * What the launcher passes to a worker (in bgw_extra): the database, the
 * launcher's slot for it, and a token naming this start (its start time,
 * unique per slot also across launcher restarts).
 */
typedef struct RetentionWorkerArgs
{
	char		dbname[NAMEDATALEN];
	int32		slot;
	uint64		token;
} RetentionWorkerArgs;

StaticAssertDecl(sizeof(RetentionWorkerArgs) <= BGW_EXTRALEN,
				 "RetentionWorkerArgs must fit in bgw_extra");

/*
 * Shared memory: per launcher slot, the token of the last worker that
 * exited because its database already had a worker ("busy exit").  A
 * background worker's exit status cannot say it (any status but 0 or 1 is
 * a crash), so the worker writes its token here before exiting and the
 * launcher compares it with the token of the start it sees stopped.
 */
typedef struct RetentionShared
{
	pg_atomic_uint64 busy_exit[RETENTION_MAX_DATABASES];
} RetentionShared;

static RetentionShared *retention_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* GUCs */
static char *retention_databases = NULL;
static int	retention_naptime = 60;
static int	retention_batch_size = 1000;
static int	retention_batch_delay = 0;
static char *retention_worker_role = NULL;

static void
retention_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(RetentionShared)));
}

static void
retention_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	retention_shared = ShmemInitStruct("stackhouse retention", sizeof(RetentionShared), &found);
	if (!found)
	{
		for (int i = 0; i < RETENTION_MAX_DATABASES; i++)
			pg_atomic_init_u64(&retention_shared->busy_exit[i], 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
stackhouse_retention_init(void)
{
	BackgroundWorker bgw;

	DefineCustomStringVariable("stackhouse.databases",
							   "Databases whose retention policies the background workers apply.",
							   "Comma-separated database names; one worker per database. "
							   "Needs stackhouse in shared_preload_libraries.",
							   &retention_databases,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("stackhouse.naptime",
							"Time between two retention passes of a worker.",
							NULL,
							&retention_naptime,
							60, 1, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("stackhouse.batch_size",
							"Largest number of source rows one retention batch (transaction) merges or deletes.",
							NULL,
							&retention_batch_size,
							1000, 2, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("stackhouse.batch_delay",
							"Pause between two retention batches, to throttle the workers' I/O.",
							NULL,
							&retention_batch_delay,
							0, 0, 600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/* the rest only when preloaded (PGC_POSTMASTER cannot be defined later) */
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomStringVariable("stackhouse.worker_role",
							   "Role the retention workers connect as (empty: the bootstrap superuser).",
							   "The role must be allowed to modify stackhouse.profiles and own its partitions.",
							   &retention_worker_role,
							   "",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = retention_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = retention_shmem_startup;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 10;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "stackhouse");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "stackhouse_retention_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "stackhouse retention launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "stackhouse retention launcher");
	bgw.bgw_main_arg = (Datum) 0;
	bgw.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&bgw);
}

/* naptime * 2^failures, capped */
static long
backoff_ms(int failures)
{
	long		ms = (long) retention_naptime * 1000L;

	for (int i = 0; i < failures && ms < RETENTION_MAX_BACKOFF_MS; i++)
		ms *= 2;
	return Min(ms, Max(RETENTION_MAX_BACKOFF_MS, (long) retention_naptime * 1000L));
}

/* ---------------------------------------------------------------- launcher */

typedef struct DbSlot
{
	bool		used;
	bool		listed;
	char		name[NAMEDATALEN];
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;		/* also the start's token */
	TimestampTz next_start;
	int			failures;
	bool		busy_logged;	/* the current run of busy exits was logged */
} DbSlot;

static DbSlot db_slots[RETENTION_MAX_DATABASES];

static DbSlot *
slot_for(const char *name)
{
	DbSlot	   *free_slot = NULL;

	for (int i = 0; i < RETENTION_MAX_DATABASES; i++)
	{
		if (db_slots[i].used && strcmp(db_slots[i].name, name) == 0)
			return &db_slots[i];
		if (!db_slots[i].used && free_slot == NULL)
			free_slot = &db_slots[i];
	}
	if (free_slot == NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("stackhouse.databases lists more than %d databases; \"%s\" is ignored",
						RETENTION_MAX_DATABASES, name)));
		return NULL;
	}
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	strlcpy(free_slot->name, name, sizeof(free_slot->name));
	free_slot->next_start = 0;
	return free_slot;
}

/* mark the listed databases; false if the setting does not parse */
static bool
parse_databases(void)
{
	char	   *raw = pstrdup(retention_databases ? retention_databases : "");
	List	   *names = NIL;
	ListCell   *lc;

	for (int i = 0; i < RETENTION_MAX_DATABASES; i++)
		db_slots[i].listed = false;
	if (!SplitGUCList(raw, ',', &names))
	{
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in stackhouse.databases: \"%s\"", retention_databases),
				 errhint("Write database names separated by commas; double-quote a name that contains a comma.")));
		pfree(raw);
		list_free(names);
		return false;
	}
	foreach(lc, names)
	{
		const char *name = (const char *) lfirst(lc);
		DbSlot	   *slot;

		if (name[0] == '\0')
			continue;
		if (strlen(name) >= NAMEDATALEN)
		{
			ereport(WARNING,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("database name \"%s\" in stackhouse.databases is too long", name)));
			continue;
		}
		slot = slot_for(name);
		if (slot != NULL)
			slot->listed = true;
	}
	list_free(names);
	pfree(raw);
	return true;
}

static void
start_worker(DbSlot *slot, TimestampTz now)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;
	MemoryContext oldcxt;
	RetentionWorkerArgs args;

	memset(&args, 0, sizeof(args));
	strlcpy(args.dbname, slot->name, sizeof(args.dbname));
	args.slot = (int32) (slot - db_slots);
	args.token = (uint64) now;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "stackhouse");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "stackhouse_retention_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "stackhouse retention worker for database %s", slot->name);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "stackhouse retention worker");
	memcpy(bgw.bgw_extra, &args, sizeof(args));
	bgw.bgw_main_arg = (Datum) 0;
	bgw.bgw_notify_pid = MyProcPid;

	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
	{
		MemoryContextSwitchTo(oldcxt);
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the stackhouse retention worker for database \"%s\"", slot->name),
				 errhint("Raise max_worker_processes.")));
		slot->next_start = TimestampTzPlusMilliseconds(now, backoff_ms(0));
		return;
	}
	MemoryContextSwitchTo(oldcxt);
	slot->handle = handle;
	slot->started_at = now;
}

/* start, restart (with backoff) and stop workers; returns ms to sleep */
static long
sync_workers(bool list_ok)
{
	TimestampTz now = GetCurrentTimestamp();
	long		sleep_ms = (long) retention_naptime * 1000L;

	for (int i = 0; i < RETENTION_MAX_DATABASES; i++)
	{
		DbSlot	   *slot = &db_slots[i];

		if (!slot->used)
			continue;
		if (slot->handle != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(slot->handle, &pid) == BGWH_STOPPED)
			{
				long		delay_ms;

				pg_memory_barrier();
				if (retention_shared != NULL &&
					pg_atomic_read_u64(&retention_shared->busy_exit[i]) == (uint64) slot->started_at)
				{
					/*
					 * The database has a worker already (one started before
					 * this launcher, say): not a failure.  Check again after
					 * naptime, to take over when that worker is gone.
					 */
					slot->failures = 0;
					delay_ms = (long) retention_naptime * 1000L;
					if (!slot->busy_logged)
						ereport(LOG,
								(errmsg("stackhouse retention: database \"%s\" already has a retention worker; checking again every stackhouse.naptime",
										slot->name)));
					slot->busy_logged = true;
					ereport(DEBUG1,
							(errmsg("stackhouse retention launcher: the worker for database \"%s\" found another one there (not a failure); next start in %ld ms",
									slot->name, delay_ms)));
				}
				else
				{
					/* a worker that stops soon after it started failed: back off */
					if (TimestampDifferenceExceeds(slot->started_at, now, 60 * 1000))
						slot->failures = 0;
					else if (slot->failures < 30)
						slot->failures++;
					slot->busy_logged = false;
					delay_ms = backoff_ms(slot->failures);
					ereport(DEBUG1,
							(errmsg("stackhouse retention launcher: the worker for database \"%s\" exited (%d failures in a row); next start in %ld ms",
									slot->name, slot->failures, delay_ms)));
				}
				pfree(slot->handle);
				slot->handle = NULL;
				slot->next_start = TimestampTzPlusMilliseconds(now, delay_ms);
			}
		}
		if (list_ok && !slot->listed)
		{
			if (slot->handle != NULL)
			{
				ereport(LOG,
						(errmsg("stopping the stackhouse retention worker for database \"%s\": no longer in stackhouse.databases",
								slot->name)));
				TerminateBackgroundWorker(slot->handle);
				pfree(slot->handle);
			}
			memset(slot, 0, sizeof(*slot));
			continue;
		}
		if (slot->handle == NULL)
		{
			if (slot->next_start <= now)
				start_worker(slot, now);
			else
			{
				long		secs;
				int			usecs;

				TimestampDifference(now, slot->next_start, &secs, &usecs);
				sleep_ms = Min(sleep_ms, secs * 1000L + usecs / 1000 + 1);
			}
		}
	}
	return Max(sleep_ms, 10);
}

void
stackhouse_retention_launcher_main(Datum main_arg)
{
	bool		list_ok;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	ereport(LOG, (errmsg("stackhouse retention launcher started")));
	list_ok = parse_databases();
	for (;;)
	{
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			list_ok = parse_databases();
		}
		sleep_ms = sync_workers(list_ok);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------- worker */

static char worker_dbname[NAMEDATALEN];
static RetentionWorkerArgs worker_args;
static MemoryContext worker_cxt = NULL;	/* lives as long as the worker */
static MemoryContext pass_cxt = NULL;	/* reset at each pass */
static char *pass_state = NULL;		/* the pass's state (jsonb text), in pass_cxt */
static bool extension_missing_logged = false;

static void
begin_xact(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "stackhouse retention: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
end_xact(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * After an error was caught: log it, roll back, and record it in the run
 * log if the table is there (in a transaction of its own).
 */
static void
handle_error(const char *what)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(worker_cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();
	pgstat_report_activity(STATE_IDLE, NULL);

	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("stackhouse retention worker for database \"%s\": %s failed: %s",
					worker_dbname, what, edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0,
			 errhint("The worker retries after stackhouse.naptime, backing off while the error lasts.")));

	PG_TRY();
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1];

		begin_xact("stackhouse retention: recording an error");
		if (SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'stackhouse'"
						" AND pg_catalog.to_regclass('stackhouse.retention_runs') IS NOT NULL",
						true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		{
			values[0] = CStringGetTextDatum(psprintf("%s failed: %s", what, edata->message));
			if (SPI_execute_with_args("INSERT INTO stackhouse.retention_runs (finished_at, policy, status, error)"
									  " VALUES (pg_catalog.clock_timestamp(), 'worker', 'error', $1)",
									  1, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "stackhouse retention: could not record an error");
		}
		end_xact();
	}
	PG_CATCH();
	{
		ErrorData  *e2;

		MemoryContextSwitchTo(worker_cxt);
		e2 = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
		ereport(WARNING,
				(errmsg("stackhouse retention worker for database \"%s\": could not record the error in stackhouse.retention_runs: %s",
						worker_dbname, e2->message)));
		FreeErrorData(e2);
	}
	PG_END_TRY();
	FreeErrorData(edata);
}

/* is the extension (with the retention job) installed in this database? */
static bool
extension_ready(bool *ok)
{
	volatile bool ready = false;

	*ok = false;
	PG_TRY();
	{
		begin_xact("stackhouse retention: checking the extension");
		if (SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'stackhouse'"
						" AND pg_catalog.to_regprocedure('stackhouse.retention_batch(integer,jsonb)') IS NOT NULL",
						true, 1) != SPI_OK_SELECT)
			elog(ERROR, "stackhouse retention: could not query pg_extension");
		ready = (SPI_processed == 1);
		end_xact();
		*ok = true;
	}
	PG_CATCH();
	{
		handle_error("checking the extension");
	}
	PG_END_TRY();
	return ready;
}

typedef enum
{
	BATCH_MORE,
	BATCH_DONE,
	BATCH_FAILED
} BatchResult;

/* one batch, one transaction */
static BatchResult
run_batch(void)
{
	volatile BatchResult result = BATCH_FAILED;

	PG_TRY();
	{
		Oid			argtypes[2] = {INT4OID, TEXTOID};
		Datum		values[2];
		char		nulls[2] = {' ', ' '};
		char	   *new_state = NULL;
		bool		isnull;
		bool		done;
		HeapTuple	tup;
		TupleDesc	desc;
		char	   *err;
		char	   *policy;

		begin_xact("stackhouse retention: SELECT stackhouse.retention_batch(...)");
		values[0] = Int32GetDatum(retention_batch_size);
		if (pass_state == NULL)
		{
			values[1] = (Datum) 0;
			nulls[1] = 'n';
		}
		else
			values[1] = CStringGetTextDatum(pass_state);
		if (SPI_execute_with_args("SELECT done, new_state::text, error, policy_id"
								  " FROM stackhouse.retention_batch($1, $2::jsonb)",
								  2, argtypes, values, nulls, false, 1) != SPI_OK_SELECT
			|| SPI_processed != 1)
			elog(ERROR, "stackhouse retention: retention_batch() returned no row");
		tup = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		done = DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
		if (isnull)
			done = true;
		new_state = SPI_getvalue(tup, desc, 2);
		if (new_state != NULL)
			new_state = MemoryContextStrdup(pass_cxt, new_state);
		err = SPI_getvalue(tup, desc, 3);
		policy = SPI_getvalue(tup, desc, 4);
		if (err != NULL)
			ereport(WARNING,
					(errmsg("stackhouse retention worker for database \"%s\": policy %s failed: %s",
							worker_dbname, policy ? policy : "?", err),
					 errdetail("The batch was rolled back; the policy is retried in the next pass. See stackhouse.retention_activity.")));
		end_xact();
		/* only a committed batch moves the pass on */
		pass_state = new_state;
		result = done ? BATCH_DONE : BATCH_MORE;
	}
	PG_CATCH();
	{
		handle_error("a retention batch");
		result = BATCH_FAILED;
	}
	PG_END_TRY();
	return result;
}

static void
worker_reload_if_pending(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* one pass: batches until no policy has work left; false on error */
static bool
run_pass(void)
{
	bool		ok;

	MemoryContextReset(pass_cxt);
	pass_state = NULL;
	if (!extension_ready(&ok))
	{
		if (ok && !extension_missing_logged)
		{
			ereport(LOG,
					(errmsg("stackhouse retention worker for database \"%s\": extension stackhouse is not installed there; waiting",
							worker_dbname)));
			extension_missing_logged = true;
		}
		return ok;
	}
	extension_missing_logged = false;
	for (;;)
	{
		BatchResult r;

		CHECK_FOR_INTERRUPTS();
		worker_reload_if_pending();
		r = run_batch();
		if (r == BATCH_DONE)
			return true;
		if (r == BATCH_FAILED)
			return false;
		if (retention_batch_delay > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 retention_batch_delay, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}

/*
 * One worker per database (also across launcher restarts): true if we hold
 * the database's worker lock now; *ok is false if trying failed (an error,
 * logged), as opposed to finding the lock held.
 */
static bool
take_worker_lock(bool *ok)
{
	volatile bool locked = false;
	volatile bool tried = false;

	PG_TRY();
	{
		begin_xact("stackhouse retention: taking the worker lock");
		if (SPI_execute(psprintf("SELECT pg_catalog.pg_try_advisory_lock(%d, 0)",
								 RETENTION_WORKER_LOCK_CLASS), false, 1) != SPI_OK_SELECT
			|| SPI_processed != 1)
			elog(ERROR, "stackhouse retention: could not take the worker lock");
		{
			bool		isnull;

			locked = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			if (isnull)
				locked = false;
		}
		end_xact();
		tried = true;
	}
	PG_CATCH();
	{
		handle_error("taking the worker lock");
		locked = false;
		tried = false;
	}
	PG_END_TRY();
	*ok = tried;
	return locked;
}

void
stackhouse_retention_worker_main(Datum main_arg)
{
	int			failures = 0;
	bool		lock_ok;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	memcpy(&worker_args, MyBgworkerEntry->bgw_extra, sizeof(worker_args));
	worker_args.dbname[NAMEDATALEN - 1] = '\0';
	strlcpy(worker_dbname, worker_args.dbname, sizeof(worker_dbname));
	BackgroundWorkerInitializeConnection(worker_dbname,
										 (retention_worker_role && retention_worker_role[0]) ?
										 retention_worker_role : NULL,
										 0);
	worker_cxt = AllocSetContextCreate(TopMemoryContext, "stackhouse retention worker",
									   ALLOCSET_DEFAULT_SIZES);
	pass_cxt = AllocSetContextCreate(worker_cxt, "stackhouse retention pass",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(worker_cxt);
	SetConfigOption("application_name", "stackhouse retention", PGC_USERSET, PGC_S_SESSION);

	/*
	 * The worker usually runs as a superuser, and the database's and role's
	 * settings (ALTER DATABASE ... SET search_path, which a database owner
	 * may run) apply to its session: never resolve an operator, type or
	 * function of our queries through such a path.  A session-level value
	 * outranks those settings and the configuration file, and still lets a
	 * function's own SET search_path clause apply (PGC_S_OVERRIDE would not).
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);

	if (!take_worker_lock(&lock_ok))
	{
		/* the error is logged: exit as a failure, the launcher backs off */
		if (!lock_ok)
			proc_exit(1);
		/* tell the launcher this is no failure (see RetentionShared) */
		if (retention_shared != NULL && worker_args.slot >= 0 &&
			worker_args.slot < RETENTION_MAX_DATABASES)
			(void) pg_atomic_exchange_u64(&retention_shared->busy_exit[worker_args.slot],
										  worker_args.token);
		ereport(DEBUG1,
				(errmsg("stackhouse retention worker for database \"%s\": another worker holds the database; exiting",
						worker_dbname)));
		proc_exit(0);
	}
	ereport(LOG,
			(errmsg("stackhouse retention worker started for database \"%s\"", worker_dbname)));

	for (;;)
	{
		long		sleep_ms;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		worker_reload_if_pending();
		if (run_pass())
			failures = 0;
		else if (failures < 30)
			failures++;
		sleep_ms = backoff_ms(failures);
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		(void) rc;
		/* a reload (SIGHUP sets the latch) starts the next pass at once */
	}
}
