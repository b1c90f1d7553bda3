/*
 * connect.c
 *	  Connecting stackhouse-ingest to the server as psql does: libpq's
 *	  parameters and environment (PGHOST, PGPASSWORD, ~/.pgpass...), and
 *	  psql's password conventions: -W prompts before connecting, -w never
 *	  prompts, and by default the CLI prompts once when the server asks for
 *	  a password that libpq could not find and standard input is a
 *	  terminal.  libpq 15 exports no prompt function: prompt_password reads
 *	  /dev/tty with echo off (termios), never standard input, which may be
 *	  a profile ("-").
 */
#include "ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* longest password read from the terminal */
#define MAX_PASSWORD 4096

/* the terminal while echo is off, for the signal handler */
static int	prompt_fd = -1;
static struct termios prompt_saved;
static volatile sig_atomic_t prompt_echo_off = 0;

static void
restore_echo_and_die(int sig)
{
	/* tcsetattr, signal and raise are async-signal-safe */
	if (prompt_echo_off)
		tcsetattr(prompt_fd, TCSAFLUSH, &prompt_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
put_tty(int fd, const char *s)
{
	size_t		len = strlen(s);

	while (len > 0)
	{
		ssize_t		w = write(fd, s, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		len -= (size_t) w;
	}
}

/*
 * Print prompt on the terminal and read one line with echo off.  Returns
 * the line (malloc'd, without the newline), or NULL with a message in
 * errbuf (no terminal, end of input, too long, out of memory).
 */
char *
prompt_password(const char *prompt, char *errbuf, size_t errlen)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa,
				old[4];
	struct termios t;
	char	   *buf;
	size_t		n = 0;
	bool		done = false,
				too_long = false,
				eof = false;
	int			fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
	{
		snprintf(errbuf, errlen, "cannot prompt for a password: no terminal (/dev/tty: %s)",
				 strerror(errno));
		return NULL;
	}
	buf = malloc(MAX_PASSWORD + 1);
	if (buf == NULL)
	{
		close(fd);
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}

	/* a signal while echo is off must not leave the terminal silent */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_echo_and_die;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old[i]);
	prompt_fd = fd;
	/* echo off before the prompt: an answer typed at once is not shown */
	if (tcgetattr(fd, &prompt_saved) == 0)
	{
		t = prompt_saved;
		t.c_lflag &= ~(tcflag_t) ECHO;
		t.c_lflag |= ICANON;
		prompt_echo_off = 1;
		tcsetattr(fd, TCSAFLUSH, &t);
	}
	put_tty(fd, prompt);

	while (!done)
	{
		char		c;
		ssize_t		r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
		{
			eof = n == 0;
			break;
		}
		if (c == '\n')
			done = true;
		else if (c == '\r')
			continue;
		else if (n < MAX_PASSWORD)
			buf[n++] = c;
		else
			too_long = true;
	}
	buf[n] = '\0';

	if (prompt_echo_off)
	{
		tcsetattr(fd, TCSAFLUSH, &prompt_saved);
		prompt_echo_off = 0;
	}
	put_tty(fd, "\n");			/* the user's newline was not echoed */
	for (int i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	prompt_fd = -1;
	close(fd);

	if (too_long || eof || n == 0)
	{
		if (too_long)
			snprintf(errbuf, errlen, "password longer than %d bytes", MAX_PASSWORD);
		else
			snprintf(errbuf, errlen, "no password given");
		memset(buf, 0, MAX_PASSWORD + 1);
		free(buf);
		return NULL;
	}
	return buf;
}

static void
wipe(char *password)
{
	if (password)
	{
		volatile char *p = password;

		while (*p)
			*p++ = '\0';
		free(password);
	}
}

static PGconn *
try_connect(const char *dbname, const char *host, const char *port,
			const char *user, const char *password)
{
	const char *keys[8];
	const char *vals[8];
	int			n = 0;

	if (dbname)
	{
		keys[n] = "dbname";
		vals[n++] = dbname;
	}
	if (host)
	{
		keys[n] = "host";
		vals[n++] = host;
	}
	if (port)
	{
		keys[n] = "port";
		vals[n++] = port;
	}
	if (user)
	{
		keys[n] = "user";
		vals[n++] = user;
	}
	if (password)
	{
		/* after dbname: wins over a password in a connection string */
		keys[n] = "password";
		vals[n++] = password;
	}
	keys[n] = "fallback_application_name";
	vals[n++] = "stackhouse-ingest";
	keys[n] = NULL;
	vals[n] = NULL;
	return PQconnectdbParams(keys, vals, 1);
}

PGconn *
connect_db(const char *progname, const char *dbname, const char *host,
		   const char *port, const char *user, PasswordPrompt mode)
{
	char	   *password = NULL;
	char		errbuf[256];
	PGconn	   *conn;

	if (mode == PROMPT_ALWAYS)
	{
		/* as psql -W: the user name is not known for sure yet */
		password = prompt_password("Password: ", errbuf, sizeof(errbuf));
		if (password == NULL)
		{
			fprintf(stderr, "%s: connection failed: %s\n", progname, errbuf);
			return NULL;
		}
	}
	conn = try_connect(dbname, host, port, user, password);
	if (conn && PQstatus(conn) == CONNECTION_BAD &&
		PQconnectionNeedsPassword(conn) && password == NULL &&
		mode == PROMPT_AUTO && isatty(STDIN_FILENO))
	{
		char		prompt[256];

		snprintf(prompt, sizeof(prompt), "Password for user %s: ",
				 PQuser(conn) ? PQuser(conn) : "?");
		password = prompt_password(prompt, errbuf, sizeof(errbuf));
		if (password == NULL)
		{
			fprintf(stderr, "%s: connection failed: %s\n", progname, errbuf);
			PQfinish(conn);
			return NULL;
		}
		PQfinish(conn);
		conn = try_connect(dbname, host, port, user, password);
	}
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "%s: connection failed: %s", progname,
				conn ? PQerrorMessage(conn) : "out of memory\n");
		if (conn && PQconnectionNeedsPassword(conn) && password == NULL)
			fprintf(stderr, "%s: the server asks for a password; %s\n", progname,
					mode == PROMPT_NEVER ?
					"-w (--no-password) forbids a prompt: set PGPASSWORD or use ~/.pgpass" :
					"standard input is not a terminal, so there was no prompt: "
					"set PGPASSWORD, use ~/.pgpass, or give -W");
		PQfinish(conn);
		conn = NULL;
	}
	wipe(password);
	return conn;
}
