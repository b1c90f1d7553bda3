# shellcheck shell=bash
# regress/pg_cluster.sh -- throwaway PostgreSQL clusters for tests and the demo.
#
# Source this file (bash), then:
#
#   pgc_start DIR [conf-line ...]   initdb DIR/data if needed, start the server,
#                                   export PGHOST PGPORT PGUSER PGDATABASE
#   pgc_stop DIR                    stop it (never fails; safe in an EXIT trap)
#   pgc_restart DIR [conf-line ...] stop, append the conf lines, start again
#   pgc_destroy DIR                 stop and remove DIR
#
# Layout of DIR:  DIR/data (PGDATA), DIR/log (server log), DIR/.s.PGSQL.<port>
# (unix socket; listen_addresses = '' so there is no TCP listener), DIR/port.
#
# Extra conf lines are appended to postgresql.conf verbatim, e.g.
#   pgc_start "$dir" "shared_preload_libraries='stackhouse'"
#
# initdb refuses to run as root, so when we are root the server runs as the
# `postgres` OS user (DIR is created and chowned to it); otherwise as the
# current user.  Clients (psql, pg_regress) run as the caller and connect as
# database user `postgres` with trust authentication over the unix socket.
#
# Callers must stop the server reliably, e.g.
#   trap 'pgc_stop "$dir"' EXIT

PGC_PG_CONFIG=${PG_CONFIG:-pg_config}
PGC_BINDIR=${PGC_BINDIR:-$("$PGC_PG_CONFIG" --bindir 2>/dev/null)}

pgc__die() {
	echo "pg_cluster: $*" >&2
	return 1
}

# run a command as the server's OS user
pgc__as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pgc__abs() {
	case "$1" in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd -P)" "$1" ;;
	esac
}

# pgc_owner_can_use DIR: can the server's OS user create/enter DIR (DIR need not
# exist yet: its nearest existing ancestor must be traversable, the rest we create)?
# Prints the first directory that blocks it on stderr.
pgc_owner_can_use() {
	local dir p
	dir=$(pgc__abs "$1")
	[ "$(id -u)" -eq 0 ] || return 0
	id postgres >/dev/null 2>&1 || {
		echo "pg_cluster: there is no 'postgres' OS user (install postgresql-15)" >&2
		return 1
	}
	p=/
	local IFS=/ part
	for part in $dir; do
		[ -n "$part" ] || continue
		p=${p%/}/$part
		[ -d "$p" ] || break
		if ! runuser -u postgres -- test -x "$p"; then
			echo "pg_cluster: the 'postgres' OS user cannot enter $p (mode $(stat -c %A "$p"), owner $(stat -c %U "$p"))" >&2
			return 1
		fi
	done
	return 0
}

pgc__port_free() {
	local port=$1
	# nothing listening on TCP (v4 or v6 loopback) and no unix socket lock in /tmp
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 1; fi
	if (exec 3<>"/dev/tcp/::1/$port") 2>/dev/null; then return 1; fi
	[ -e "/tmp/.s.PGSQL.$port" ] && return 1
	[ -e "/var/run/postgresql/.s.PGSQL.$port" ] && return 1
	return 0
}

pgc__pick_port() {
	local port
	for _ in $(seq 1 200); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		if pgc__port_free "$port"; then
			echo "$port"
			return 0
		fi
	done
	pgc__die "no free port found in 20000-60000"
}

# pgc__conf_set DATADIR KEY VALUE: append "key = value" to postgresql.conf (last wins)
pgc__conf_set() {
	printf '%s = %s\n' "$2" "$3" | pgc__as_owner tee -a "$1/postgresql.conf" >/dev/null
}

pgc_start() {
	local dir="${1:?usage: pgc_start DIR [conf-line ...]}"
	shift
	local line port data log sock

	[ -n "$PGC_BINDIR" ] && [ -x "$PGC_BINDIR/pg_ctl" ] ||
		{ pgc__die "cannot find PostgreSQL server binaries (pg_config --bindir = '$PGC_BINDIR'); install postgresql-15"; return 1; }

	dir=$(pgc__abs "$dir")
	data=$dir/data
	log=$dir/log

	pgc_owner_can_use "$dir" ||
		{ pgc__die "cannot run a server in $dir: the 'postgres' OS user must be able to reach it; use a directory under /tmp"; return 1; }
	mkdir -p "$dir" || return 1
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir" || return 1
	fi
	chmod 0700 "$dir" || return 1
	pgc__as_owner test -w "$dir" ||
		{ pgc__die "the server's OS user cannot write to $dir"; return 1; }

	# unix socket path limit (sun_path is 108 bytes)
	sock="$dir/.s.PGSQL.65535.lock"
	[ "${#sock}" -lt 108 ] || { pgc__die "directory path too long for a unix socket: $dir"; return 1; }

	if [ ! -f "$data/PG_VERSION" ]; then
		pgc__as_owner "$PGC_BINDIR/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C \
			--no-sync >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; pgc__die "initdb failed in $data"; return 1; }
		pgc__conf_set "$data" listen_addresses "''"
		pgc__conf_set "$data" unix_socket_directories "'$dir'"
		pgc__conf_set "$data" fsync off
		pgc__conf_set "$data" synchronous_commit off
		pgc__conf_set "$data" full_page_writes off
		pgc__conf_set "$data" max_prepared_transactions 10
		pgc__conf_set "$data" log_line_prefix "'%m [%p] %q%u@%d '"
		pgc__conf_set "$data" log_min_messages warning
		pgc__conf_set "$data" lc_messages "'C'"
	fi
	for line in "$@"; do
		printf '%s\n' "$line" | pgc__as_owner tee -a "$data/postgresql.conf" >/dev/null
	done

	# already running (e.g. pgc_start twice)?
	if pgc__as_owner "$PGC_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		port=$(cat "$dir/port")
	else
		local attempt
		for attempt in 1 2 3 4 5; do
			port=""
			if [ -f "$dir/port" ] && pgc__port_free "$(cat "$dir/port")"; then
				port=$(cat "$dir/port")
			fi
			[ -n "$port" ] || port=$(pgc__pick_port) || return 1
			pgc__conf_set "$data" port "$port"
			echo "$port" >"$dir/port.tmp" && mv -f "$dir/port.tmp" "$dir/port"
			# the log is appended to across restarts; the client must be able to read it
			pgc__as_owner touch "$log"
			if pgc__as_owner "$PGC_BINDIR/pg_ctl" -D "$data" -l "$log" -w -t 600 start >"$dir/pg_ctl.log" 2>&1; then
				break
			fi
			echo "pg_cluster: server start failed on port $port (attempt $attempt); last log lines:" >&2
			tail -n 20 "$log" >&2
			cat "$dir/pg_ctl.log" >&2
			# a port race shows up as "could not create lock file"/"Address already in use": retry
			rm -f "$dir/port"
			port=""
			grep -qE 'already in use|lock file' "$log" || break
		done
		[ -n "$port" ] || { pgc__die "could not start the server in $dir (log: $log)"; return 1; }
	fi

	export PGHOST="$dir" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
	unset PGSERVICE PGHOSTADDR PGPASSWORD PGOPTIONS 2>/dev/null || true
	PGC_DIR=$dir
	return 0
}

pgc_stop() {
	local dir="${1:-${PGC_DIR:-}}"
	[ -n "$dir" ] || return 0
	dir=$(pgc__abs "$dir")
	local data=$dir/data pid
	[ -f "$data/postmaster.pid" ] || return 0
	pgc__as_owner "$PGC_BINDIR/pg_ctl" -D "$data" -m fast -w -t 120 stop >/dev/null 2>&1 && return 0
	pgc__as_owner "$PGC_BINDIR/pg_ctl" -D "$data" -m immediate -w -t 60 stop >/dev/null 2>&1 && return 0
	# last resort: the postmaster we started (first line of postmaster.pid)
	pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "pg_cluster: pg_ctl stop failed; killing postmaster $pid" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	return 0
}

pgc_restart() {
	local dir="${1:?usage: pgc_restart DIR [conf-line ...]}"
	shift
	pgc_stop "$dir"
	pgc_start "$dir" "$@"
}

pgc_destroy() {
	local dir="${1:?usage: pgc_destroy DIR}"
	pgc_stop "$dir"
	rm -rf -- "$dir"
}

# pgc_log DIR: path of the server log
pgc_log() {
	printf '%s/log\n' "$(pgc__abs "${1:-${PGC_DIR:-.}}")"
}
