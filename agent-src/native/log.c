/*
 * The agent's log sink: stderr (which the supervisor may point at /dev/console or a file) or
 * syslog. A log line must never stop the event loop: a serial console held by XOFF (Ctrl-S on
 * the camera's UART), a wedged UART, a full pipe or a stopped syslogd would otherwise freeze the
 * relay of every stream. So every write is non-blocking; a line that cannot leave now is dropped
 * and counted, and the next line that gets out is preceded by how many were lost.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 1024

static const char *const level_name[] = { "debug", "info", "warn", "error" };
static const int syslog_severity[] = { 7, 6, 4, 3 }; /* LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR */
#define LOG_DAEMON_FACILITY (3 << 3)

static int out_fd = -1;        /* stderr, or our own non-blocking open of it */
static int out_is_socket;      /* stderr is a socket: send(MSG_DONTWAIT) */
static int syslog_fd = -1;     /* connected datagram socket to /dev/log */
static int use_syslog;
static char syslog_ident[32];
static unsigned long dropped;  /* lines lost since the last one that got out */
static int mid_line;           /* a partial write left a line unfinished */

/*
 * O_NONBLOCK on fd 2 itself would change the open file description the supervisor shell shares;
 * a fresh open of the same file through /proc gives the agent a description of its own.
 */
static void open_stderr(void)
{
    struct stat st;

    out_fd = 2;
    if (fstat(2, &st) == 0 && S_ISSOCK(st.st_mode)) {
        out_is_socket = 1;
        return;
    }
    int fd = open("/proc/self/fd/2", O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0)
        out_fd = fd;
    else
        fcntl(2, F_SETFL, fcntl(2, F_GETFL) | O_NONBLOCK); /* no /proc: better than blocking */
}

/*
 * Text a server chose reaches the log (error messages, device ids): control characters are
 * written escaped so it cannot forge a line (newline) or drive a terminal (ESC). Same rules as
 * escapeLogText() in platform/log-text.ts: \n \r \t, other C0 controls, DEL and the UTF-8
 * encoded C1 controls (U+0080-U+009F) as \xNN. Stops at out_size - 1 bytes.
 */
static void escape_controls(const char *in, char *out, size_t out_size)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = 0;

    while (*p && n + 5 <= out_size) {
        unsigned c = *p++;
        if (c == 0xc2 && *p >= 0x80 && *p <= 0x9f)
            c = *p++;
        else if (c >= 0x20 && c != 0x7f) {
            out[n++] = (char)c;
            continue;
        }
        if (c == '\n' || c == '\r' || c == '\t') {
            out[n++] = '\\';
            out[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else {
            n += (size_t)snprintf(out + n, 5, "\\x%02x", c);
        }
    }
    out[n] = '\0';
}

/* One write that never waits: bytes taken, or -1 (nothing taken). */
static ssize_t try_write(int fd, int is_socket, const char *p, size_t len)
{
    ssize_t n;

    do
        n = is_socket ? send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, p, len);
    while (n < 0 && errno == EINTR);
    return n;
}

static void log_stderr(int level, const char *line)
{
    char buf[LINE_MAX_BYTES + 96];
    int len = 0;
    ssize_t n;

    if (out_fd < 0)
        open_stderr();
    if (mid_line)
        buf[len++] = '\n';
    if (dropped)
        len += snprintf(buf + len, 64, "warn %lu log lines dropped (log output blocked)\n", dropped);
    len += snprintf(buf + len, sizeof(buf) - (size_t)len, "%s %.*s\n", level_name[level], LINE_MAX_BYTES, line);
    if (len > (int)sizeof(buf) - 1)
        len = (int)sizeof(buf) - 1;
    n = try_write(out_fd, out_is_socket, buf, (size_t)len);
    if (n <= 0) {
        dropped++;
        return;
    }
    dropped = 0;
    mid_line = n < len;
}

static void syslog_connect(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };

    if (syslog_fd >= 0)
        close(syslog_fd);
    syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (syslog_fd >= 0 && connect(syslog_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(syslog_fd);
        syslog_fd = -1;
    }
}

static void log_syslog(int level, const char *line)
{
    char buf[LINE_MAX_BYTES + 160], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    int len = 0;

    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", localtime_r(&now, &tm));
    /* RFC 3164, as syslog(3) sends it: "<PRI>Mmm dd hh:mm:ss ident[pid]: text" */
    if (dropped)
        len = snprintf(buf, sizeof(buf), "<%d>%s %s[%d]: %lu log lines dropped (syslog blocked); %.*s",
                       LOG_DAEMON_FACILITY | syslog_severity[level], stamp, syslog_ident, (int)getpid(),
                       dropped, LINE_MAX_BYTES, line);
    else
        len = snprintf(buf, sizeof(buf), "<%d>%s %s[%d]: %.*s", LOG_DAEMON_FACILITY | syslog_severity[level],
                       stamp, syslog_ident, (int)getpid(), LINE_MAX_BYTES, line);
    if (len > (int)sizeof(buf) - 1)
        len = (int)sizeof(buf) - 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (syslog_fd < 0)
            syslog_connect();
        if (syslog_fd >= 0 && try_write(syslog_fd, 1, buf, (size_t)len) >= 0) {
            dropped = 0;
            return;
        }
        if (syslog_fd < 0 || (errno != ECONNREFUSED && errno != ENOTCONN))
            break;
        close(syslog_fd); /* syslogd restarted: its socket is new, connect again once */
        syslog_fd = -1;
    }
    dropped++;
}

void flussonic_log(int level, const char *text)
{
    char line[LINE_MAX_BYTES + 1];

    if (level < 0 || level > 3)
        level = 3;
    escape_controls(text, line, sizeof(line));
    if (use_syslog)
        log_syslog(level, line);
    else
        log_stderr(level, line);
}

void flussonic_log_to_syslog(const char *ident)
{
    snprintf(syslog_ident, sizeof(syslog_ident), "%s", ident);
    use_syslog = 1;
    syslog_connect();
}
