/*
 * timeparse.c
 *	  --time and --duration argument parsing for stackhouse-ingest: Unix
 *	  seconds or ISO 8601 timestamps (UTC unless an offset is given), and
 *	  durations in seconds or with a unit suffix.  No locale, no timezone
 *	  database: the result does not depend on the machine's settings.
 */
#include "ingest.h"

#include <ctype.h>
#include <string.h>

/* digits into *out; returns the number consumed (0..max) */
static int
digits(const char *s, int max, int64_t *out)
{
	int			n = 0;
	int64_t		v = 0;

	while (n < max && isdigit((unsigned char) s[n]))
		v = v * 10 + (s[n++] - '0');
	*out = v;
	return n;
}

/* seconds[.fraction] -> nanoseconds; p advanced past what was read */
static bool
seconds_frac(const char **p, int64_t *nanos)
{
	int64_t		sec,
				frac = 0;
	int			n = digits(*p, 12, &sec);

	/* sec * 10^9 + frac must fit in an int64 (about 292 years) */
	if (n == 0 || sec > INT64_MAX / 1000000000LL - 1)
		return false;
	*p += n;
	if (**p == '.')
	{
		int			fd = 0;

		(*p)++;
		while (isdigit((unsigned char) **p))
		{
			if (fd < 9)
			{
				frac = frac * 10 + (**p - '0');
				fd++;
			}
			(*p)++;
		}
		while (fd++ < 9)
			frac *= 10;
	}
	*nanos = sec * 1000000000LL + frac;
	return true;
}

/* days since 1970-01-01 of a proleptic Gregorian date */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t		era,
				yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

bool
parse_time(const char *s, int64_t *nanos)
{
	const char *p = s;
	int64_t		y,
				mo,
				d,
				h = 0,
				mi = 0,
				secn = 0,
				off = 0;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (s == NULL || *s == '\0')
		return false;
	/* Unix seconds, optionally prefixed with '@' */
	if (*p == '@')
		p++;
	if (strspn(p, "0123456789.") == strlen(p))
		return seconds_frac(&p, nanos) && *p == '\0';

	p = s;
	if (digits(p, 4, &y) != 4 || p[4] != '-' ||
		digits(p + 5, 2, &mo) != 2 || p[7] != '-' ||
		digits(p + 8, 2, &d) != 2)
		return false;
	p += 10;
	if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return false;
	if (*p == 'T' || *p == 't' || *p == ' ')
	{
		p++;
		if (digits(p, 2, &h) != 2 || p[2] != ':' || digits(p + 3, 2, &mi) != 2)
			return false;
		p += 5;
		if (h > 23 || mi > 59)
			return false;
		if (*p == ':')
		{
			p++;
			if (!seconds_frac(&p, &secn) || secn >= 61 * 1000000000LL)
				return false;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		int64_t		oh,
					om = 0;
		int			sign = *p == '-' ? -1 : 1;

		p++;
		if (digits(p, 2, &oh) != 2)
			return false;
		p += 2;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char) *p))
		{
			if (digits(p, 2, &om) != 2)
				return false;
			p += 2;
		}
		if (oh > 23 || om > 59)
			return false;
		off = sign * (oh * 3600 + om * 60);
	}
	if (*p != '\0')
		return false;
	*nanos = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 - off)
			  * 1000000000LL) + secn;
	return true;
}

bool
parse_duration(const char *s, int64_t *nanos)
{
	const char *p = s;
	int64_t		v;

	if (s == NULL || !seconds_frac(&p, &v))
		return false;
	if (strcmp(p, "") == 0 || strcmp(p, "s") == 0)
		*nanos = v;
	else if (strcmp(p, "ms") == 0)
		*nanos = v / 1000;
	else if (strcmp(p, "m") == 0 || strcmp(p, "min") == 0)
	{
		if (v > INT64_MAX / 60)
			return false;
		*nanos = v * 60;
	}
	else if (strcmp(p, "h") == 0)
	{
		if (v > INT64_MAX / 3600)
			return false;
		*nanos = v * 3600;
	}
	else
		return false;
	return true;
}
