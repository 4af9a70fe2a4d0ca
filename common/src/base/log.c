/* The process-wide logger: level filter, line formatting, atomic writes. */
#include "kyborg/base/log.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096

static struct {
	int fd; /* -1: stderr */
	enum ky_log_level level;
	char ident[32];
} logger = { .fd = -1, .level = KY_LOG_INFO, .ident = "kyborg" };

static const char *const level_names[] = { "error", "warn", "info", "debug" };

const char *ky_log_level_name(enum ky_log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[level];
}

int ky_log_level_parse(const char *s, enum ky_log_level *out)
{
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum ky_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = KY_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

int ky_log_open(const char *ident, const char *path, enum ky_log_level level, struct ky_error **err)
{
	int fd = -1;
	if (path && *path) {
		/* Root appends here: never through a symlink, never to a FIFO
		 * (O_NONBLOCK: no wait for a reader), never to a file others
		 * own or can write, nor one with another name (a hard link). */
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0)
			return ky_error_set(err, errno, "open log file %s: %s", path,
					    errno == ELOOP ? "a symbolic link" : strerror(errno));
		struct stat st;
		const char *why = fstat(fd, &st) < 0 ? strerror(errno) : !S_ISREG(st.st_mode) ? "not a regular file" :
				  !ky_stat_trusted(&st) ? "not root's, or writable by group or others" :
				  st.st_nlink != 1 ? "a file with other names (hard links)" : NULL;
		int fl = why ? -1 : fcntl(fd, F_GETFL);
		if (!why && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0))
			why = strerror(errno);
		if (why) {
			close(fd);
			return ky_error_set(err, EPERM, "open log file %s: %s", path, why);
		}
	}
	ky_log_close();
	logger.fd = fd;
	logger.level = level;
	if (ident)
		snprintf(logger.ident, sizeof(logger.ident), "%s", ident);
	return 0;
}

void ky_log_set_level(enum ky_log_level level)
{
	logger.level = level;
}

bool ky_log_enabled(enum ky_log_level level)
{
	return level <= logger.level;
}

void ky_log_close(void)
{
	if (logger.fd >= 0)
		close(logger.fd);
	logger.fd = -1;
}

static int needs_quotes(const char *s)
{
	if (!*s)
		return 1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '"' || c == '\\' || c == '=' || c == 0x7f)
			return 1;
	}
	return 0;
}

char *ky_log_quote(const char *s, char *buf, size_t size)
{
	if (size == 0)
		return buf;
	if (!s)
		s = "";
	if (!needs_quotes(s)) {
		snprintf(buf, size, "%s", s);
		return buf;
	}
	size_t o = 0;
	/* Reserve room for the closing quote and NUL. */
	if (o + 2 < size)
		buf[o++] = '"';
	for (; *s && o + 3 < size; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = NULL;
		char hex[5];
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\t')
			esc = "\\t";
		else if (c < ' ' || c == 0x7f) {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			esc = hex;
		}
		if (esc) {
			size_t n = strlen(esc);
			if (o + n + 2 >= size)
				break;
			memcpy(buf + o, esc, n);
			o += n;
		} else {
			buf[o++] = (char)c;
		}
	}
	if (o + 1 < size)
		buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* UTC broken down by hand: glibc's gmtime_r reads /etc/localtime (tzset)
 * on first use, a file open and parse for every short-lived process that
 * logs a line. Days to civil date after H. Hinnant's days_from_civil. */
static void utc_tm(time_t t, struct tm *tm)
{
	long long days = t / 86400, secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	tm->tm_hour = (int)(secs / 3600);
	tm->tm_min = (int)(secs / 60 % 60);
	tm->tm_sec = (int)(secs % 60);
	days += 719468;
	long long era = (days >= 0 ? days : days - 146096) / 146097;
	long long doe = days - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	long long mon = mp < 10 ? mp + 3 : mp - 9;
	tm->tm_mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->tm_mon = (int)mon - 1;
	tm->tm_year = (int)(yoe + era * 400 + (mon <= 2)) - 1900;
}

static void emit(enum ky_log_level level, const char *event, const struct ky_error *e, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN];
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	utc_tm(ts.tv_sec, &tm);
	int r = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=%s pid=%d event=%s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 ts.tv_nsec / 1000000L, ky_log_level_name(level), logger.ident, (int)getpid(), event);
	n = r < 0 ? 0 : (size_t)r < sizeof(line) ? (size_t)r : sizeof(line) - 1;

	if (fmt && *fmt && n + 2 < sizeof(line)) {
		line[n++] = ' ';
		size_t start = n;
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n = r < 0 ? start : n + (size_t)r < sizeof(line) ? n + (size_t)r : sizeof(line) - 1;
		for (size_t i = start; i < n; i++)
			if (line[i] == '\n' || line[i] == '\r')
				line[i] = ' ';
	}
	if (e && n + 8 < sizeof(line)) {
		memcpy(line + n, " error=", 7);
		n += 7;
		ky_log_quote(ky_error_msg(e), line + n, sizeof(line) - n - 1);
		n += strlen(line + n);
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';

	int fd = logger.fd >= 0 ? logger.fd : STDERR_FILENO;
	int saved = errno;
	/* One write per line: O_APPEND keeps concurrent writers' lines whole. */
	ssize_t w;
	do
		w = write(fd, line, n);
	while (w < 0 && errno == EINTR);
	errno = saved;
}

void ky_log(enum ky_log_level level, const char *event, const char *fmt, ...)
{
	if (!ky_log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	emit(level, event, NULL, fmt, ap);
	va_end(ap);
}

void ky_log_err(enum ky_log_level level, const char *event, const struct ky_error *e, const char *fmt, ...)
{
	if (!ky_log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	emit(level, event, e, fmt, ap);
	va_end(ap);
}
