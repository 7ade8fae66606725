/*
 * flussonic:native — the small OS layer under platform/quickjs.ts.
 *
 * Everything is non-blocking and driven by quickjs-libc's single event loop: this file only
 * starts operations and returns at once; the JS side waits for readiness with
 * os.setReadHandler/os.setWriteHandler. Errors are thrown as JS Error("what: strerror").
 * The JS-visible API is described in docs/native.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "native.h"

#ifndef FLUSSONIC_VERSION
#define FLUSSONIC_VERSION "0.0.0"
#endif
#ifndef FLUSSONIC_ARCH
#define FLUSSONIC_ARCH "unknown"
#endif
#ifndef QUICKJS_VERSION
#define QUICKJS_VERSION "unknown"
#endif

#define IO_CHUNK 16384
#define N_ELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static uint8_t io_buf[IO_CHUNK];

/*
 * quickjs-libc's event loop (2025-04-26) waits with select(): FD_SET on a descriptor
 * >= FD_SETSIZE writes past the fd_set. Every descriptor that can reach the loop (sockets and
 * resolver pipes) is created in this file and goes through capped_fd(): one >= FD_CAP is closed
 * and reported as EMFILE, so the loop never sees it. The agent needs about 40 (one link, 32
 * camera connections, resolver pipes while dialling): docs/native.md, "Descriptors".
 */
#define FD_CAP 128
_Static_assert(FD_CAP <= FD_SETSIZE / 4, "FD_CAP must stay far below FD_SETSIZE");

static int capped_fd(int fd)
{
    if (fd >= FD_CAP) {
        close(fd);
        errno = EMFILE;
        return -1;
    }
    return fd;
}

JSValue flussonic_throw_errno(JSContext *ctx, const char *what)
{
    return JS_ThrowInternalError(ctx, "%s: %s", what, strerror(errno));
}

uint8_t *flussonic_get_bytes(JSContext *ctx, JSValueConst val, JSValueConst off_val,
                             JSValueConst len_val, size_t *plen)
{
    size_t size, boff = 0, blen = 0, bpe = 1;
    uint8_t *p;
    uint64_t off = 0, len;
    JSValue ab = JS_GetTypedArrayBuffer(ctx, val, &boff, &blen, &bpe);

    if (!JS_IsException(ab)) {
        p = JS_GetArrayBuffer(ctx, &size, ab);
        JS_FreeValue(ctx, ab);
        if (!p)
            return NULL;
        p += boff;
        size = blen;
    } else {
        JS_FreeValue(ctx, JS_GetException(ctx)); /* not a typed array: try a plain ArrayBuffer */
        p = JS_GetArrayBuffer(ctx, &size, val);
        if (!p)
            return NULL;
    }
    if (!JS_IsUndefined(off_val) && JS_ToIndex(ctx, &off, off_val))
        return NULL;
    len = size > off ? size - off : 0;
    if (!JS_IsUndefined(len_val) && JS_ToIndex(ctx, &len, len_val))
        return NULL;
    if (off > size || len > size - off) {
        JS_ThrowRangeError(ctx, "byte range out of bounds");
        return NULL;
    }
    *plen = len;
    return p + off;
}

/* The (bytes, offset?, length?) arguments starting at argv[i], as write() and tlsWrite() take them. */
uint8_t *flussonic_get_bytes_args(JSContext *ctx, int argc, JSValueConst *argv, int i, size_t *plen)
{
    return flussonic_get_bytes(ctx, argv[i], argc > i + 1 ? argv[i + 1] : JS_UNDEFINED,
                               argc > i + 2 ? argv[i + 2] : JS_UNDEFINED, plen);
}

/* /dev/urandom, opened once: never blocks at boot and needs no getrandom(2) (Linux 3.17+). */
int flussonic_urandom(void *buf, size_t len)
{
    static int fd = -1;
    uint8_t *p = buf;

    if (fd < 0) {
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
    }
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int get_fd(JSContext *ctx, int *fd, JSValueConst v)
{
    return JS_ToInt32(ctx, fd, v);
}

/* ---- build information, process, logging ---- */

static JSValue js_build_info(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    JSValue o = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, o, "version", JS_NewString(ctx, FLUSSONIC_VERSION));
    JS_SetPropertyStr(ctx, o, "quickjs", JS_NewString(ctx, QUICKJS_VERSION));
    JS_SetPropertyStr(ctx, o, "tls", JS_NewString(ctx, flussonic_tls_version()));
    JS_SetPropertyStr(ctx, o, "arch", JS_NewString(ctx, FLUSSONIC_ARCH));
#if defined(__GLIBC__)
    JS_SetPropertyStr(ctx, o, "libc", JS_NewString(ctx, "glibc"));
#elif defined(__UCLIBC__)
    JS_SetPropertyStr(ctx, o, "libc", JS_NewString(ctx, "uclibc"));
#else
    JS_SetPropertyStr(ctx, o, "libc", JS_NewString(ctx, "musl"));
#endif
#ifdef FLUSSONIC_TEST_SERVER
    JS_SetPropertyStr(ctx, o, "testServer", JS_TRUE);
#else
    JS_SetPropertyStr(ctx, o, "testServer", JS_FALSE);
#endif
    return o;
}

static JSValue js_now(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return JS_NewFloat64(ctx, (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6);
}

static JSValue write_all_fd(JSContext *ctx, int fd, JSValueConst str)
{
    size_t len;
    const char *str0 = JS_ToCStringLen(ctx, &len, str), *s = str0;
    if (!s)
        return JS_EXCEPTION;
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* stdout gone: nothing sensible left to do */
        s += n;
        len -= (size_t)n;
    }
    JS_FreeCString(ctx, str0);
    return JS_UNDEFINED;
}

static JSValue js_write_out(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    return write_all_fd(ctx, 1, argv[0]);
}

static JSValue js_write_err(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    return write_all_fd(ctx, 2, argv[0]);
}

static JSValue js_exit(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int code = 0;
    JS_ToInt32(ctx, &code, argv[0]);
    _exit(code);
    return JS_UNDEFINED;
}

static JSValue js_open_syslog(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    const char *s = JS_ToCString(ctx, argv[0]);
    if (!s)
        return JS_EXCEPTION;
    flussonic_log_to_syslog(s);
    JS_FreeCString(ctx, s);
    return JS_UNDEFINED;
}

/* log(priority 0..3 = debug/info/warn/error, line): never blocks (log.c) */
static JSValue js_log(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int level = 1;
    const char *s;

    JS_ToInt32(ctx, &level, argv[0]);
    s = JS_ToCString(ctx, argv[1]);
    if (!s)
        return JS_EXCEPTION;
    flussonic_log(level, s);
    JS_FreeCString(ctx, s);
    return JS_UNDEFINED;
}

/* ---- random, files ---- */

static JSValue js_random_bytes(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    uint64_t n;
    if (JS_ToIndex(ctx, &n, argv[0]))
        return JS_EXCEPTION;
    if (n > IO_CHUNK)
        return JS_ThrowRangeError(ctx, "randomBytes: at most %d bytes", IO_CHUNK);
    if (flussonic_urandom(io_buf, (size_t)n))
        return flussonic_throw_errno(ctx, "/dev/urandom");
    return JS_NewArrayBufferCopy(ctx, io_buf, (size_t)n);
}

static JSValue js_read_file(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    const char *path = JS_ToCString(ctx, argv[0]);
    JSValue ret;
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    int fd;

    if (!path)
        return JS_EXCEPTION;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ret = errno == ENOENT ? JS_NULL : flussonic_throw_errno(ctx, path);
        JS_FreeCString(ctx, path);
        return ret;
    }
    if (fstat(fd, &st) < 0 || st.st_size > (16 << 20)) {
        ret = st.st_size > (16 << 20) ? JS_ThrowRangeError(ctx, "%s: file too large", path)
                                      : flussonic_throw_errno(ctx, path);
        goto out;
    }
    buf = js_malloc(ctx, (size_t)st.st_size + 1);
    if (!buf) {
        ret = JS_EXCEPTION;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            js_free(ctx, buf);
            ret = flussonic_throw_errno(ctx, path);
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    ret = JS_NewArrayBufferCopy(ctx, buf, got);
    js_free(ctx, buf);
out:
    close(fd);
    JS_FreeCString(ctx, path);
    return ret;
}

/* mkdir -p of a directory path (the state directory may not exist on first boot). */
static int mkdir_p(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(buf))
        return n == 0 ? 0 : -1;
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Temp file in the same directory, fsync, rename over path, fsync the directory: after a power
 * cut the file is either the old or the new content, never a torn mix. One fixed temp name
 * (".NAME.tmp", as the Node platform): a writer killed mid-write leaves at most one stale temp. */
static JSValue js_write_file_atomic(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    const char *path = JS_ToCString(ctx, argv[0]);
    char tmp[4096], dir[4096];
    const char *base;
    const uint8_t *data;
    size_t len;
    int fd, dfd;
    char *slash;
    JSValue ret = JS_UNDEFINED;

    if (!path)
        return JS_EXCEPTION;
    data = flussonic_get_bytes(ctx, argv[1], JS_UNDEFINED, JS_UNDEFINED, &len);
    if (!data) {
        JS_FreeCString(ctx, path);
        return JS_EXCEPTION;
    }
    if (strlen(path) + 8 >= sizeof(tmp)) {
        JS_FreeCString(ctx, path);
        return JS_ThrowRangeError(ctx, "path too long");
    }
    strcpy(dir, path);
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, base) >= (int)sizeof(tmp)) {
        ret = JS_ThrowRangeError(ctx, "path too long");
        goto out;
    }
    if (mkdir_p(dir) < 0) {
        ret = flussonic_throw_errno(ctx, dir);
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        ret = flussonic_throw_errno(ctx, tmp);
        goto out;
    }
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = flussonic_throw_errno(ctx, tmp);
            close(fd);
            unlink(tmp);
            goto out;
        }
        data += n;
        len -= (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        ret = flussonic_throw_errno(ctx, tmp);
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        ret = flussonic_throw_errno(ctx, path);
        unlink(tmp);
        goto out;
    }
    dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        /* Some filesystems (e.g. jffs2 on old kernels) refuse fsync on a directory: the rename is
         * already done then, so this is best effort. */
        fsync(dfd);
        close(dfd);
    }
out:
    JS_FreeCString(ctx, path);
    return ret;
}

/* ---- name resolution: getaddrinfo blocks, so it runs in a short-lived thread that reports
 * through a pipe the event loop watches; numeric addresses are answered at once. ---- */

struct resolve_job {
    int wfd;
    char host[256];
};

static void resolve_report(int wfd, const char *line)
{
    ssize_t n;
    do
        n = write(wfd, line, strlen(line));
    while (n < 0 && errno == EINTR);
    close(wfd);
}

static void *resolve_thread(void *arg)
{
    struct resolve_job *job = arg;
    struct addrinfo hints, *res = NULL, *ai;
    char line[300];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(job->host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(line, sizeof(line), "!%s: %s", job->host, gai_strerror(rc));
    } else {
        /* Prefer IPv4: camera networks rarely route IPv6. */
        ai = res;
        for (struct addrinfo *a = res; a; a = a->ai_next)
            if (a->ai_family == AF_INET) {
                ai = a;
                break;
            }
        line[0] = '=';
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, line + 1, sizeof(line) - 1, NULL, 0,
                        NI_NUMERICHOST) != 0)
            snprintf(line, sizeof(line), "!%s: no usable address", job->host);
        freeaddrinfo(res);
    }
    resolve_report(job->wfd, line);
    free(job);
    return NULL;
}

static JSValue js_resolve_start(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    const char *host = JS_ToCString(ctx, argv[0]);
    struct in6_addr a6;
    struct in_addr a4;
    struct resolve_job *job;
    pthread_attr_t attr;
    pthread_t tid;
    char line[300];
    int p[2];

    if (!host)
        return JS_EXCEPTION;
    if (pipe(p) < 0) {
        JS_FreeCString(ctx, host);
        return flussonic_throw_errno(ctx, "pipe");
    }
    if (p[0] >= FD_CAP || p[1] >= FD_CAP) {
        close(p[0]);
        close(p[1]);
        JS_FreeCString(ctx, host);
        errno = EMFILE;
        return flussonic_throw_errno(ctx, "pipe");
    }
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1) {
        snprintf(line, sizeof(line), "=%s", host);
        resolve_report(p[1], line);
        JS_FreeCString(ctx, host);
        return JS_NewInt32(ctx, p[0]);
    }
    job = malloc(sizeof(*job));
    if (!job || strlen(host) >= sizeof(job->host)) {
        free(job);
        close(p[0]);
        close(p[1]);
        JS_FreeCString(ctx, host);
        return JS_ThrowRangeError(ctx, "bad host name");
    }
    job->wfd = p[1];
    strcpy(job->host, host);
    JS_FreeCString(ctx, host);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024); /* musl's default; getaddrinfo needs a few KB */
    if (pthread_create(&tid, &attr, resolve_thread, job) != 0) {
        pthread_attr_destroy(&attr);
        /* No thread: resolve inline rather than fail (blocks the loop, but only here). */
        resolve_thread(job);
        return JS_NewInt32(ctx, p[0]);
    }
    pthread_attr_destroy(&attr);
    return JS_NewInt32(ctx, p[0]);
}

/* resolveResult(fd): the address text; closes fd; throws on a resolution failure. */
static JSValue js_resolve_result(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    char line[301];
    ssize_t n, got = 0;
    int fd;

    if (get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    for (;;) {
        n = read(fd, line + got, sizeof(line) - 1 - (size_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += n;
    }
    close(fd);
    line[got] = '\0';
    if (got < 2)
        return JS_ThrowInternalError(ctx, "resolver failed");
    if (line[0] == '!')
        return JS_ThrowInternalError(ctx, "%s", line + 1);
    return JS_NewString(ctx, line + 1);
}

/* ---- TCP ---- */

static int fill_addr(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *sl)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *sl = sizeof(*s4);
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *sl = sizeof(*s6);
        return 0;
    }
    return -1;
}

static int new_socket(int family)
{
    /* SOCK_NONBLOCK/SOCK_CLOEXEC flags exist since 2.6.27; fcntl keeps us independent of them. */
    int fd = capped_fd(socket(family, SOCK_STREAM, 0));
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* tcpConnect(ip, port): fd with a connect in progress; wait for writability, then connectResult. */
static JSValue js_tcp_connect(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int port, fd;
    const char *ip = JS_ToCString(ctx, argv[0]);

    if (!ip)
        return JS_EXCEPTION;
    if (JS_ToInt32(ctx, &port, argv[1]) || port <= 0 || port > 65535 || fill_addr(ip, port, &ss, &sl)) {
        JS_FreeCString(ctx, ip);
        return JS_ThrowRangeError(ctx, "bad address");
    }
    JS_FreeCString(ctx, ip);
    fd = new_socket(ss.ss_family);
    if (fd < 0)
        return flussonic_throw_errno(ctx, "socket");
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
        JSValue e = flussonic_throw_errno(ctx, "connect");
        close(fd);
        return e;
    }
    return JS_NewInt32(ctx, fd);
}

/* connectResult(fd): null when connected, else the error text. */
static JSValue js_connect_result(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd, err = 0;
    socklen_t l = sizeof(err);

    if (get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
        err = errno;
    if (err == 0)
        return JS_NULL;
    return JS_NewString(ctx, strerror(err));
}

/* setKeepAlive(fd, idleSec, intervalSec, count): notices a dead peer behind a NAT. */
static JSValue js_set_keepalive(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd, idle, intvl, cnt, on = 1;
    if (get_fd(ctx, &fd, argv[0]) || JS_ToInt32(ctx, &idle, argv[1]) ||
        JS_ToInt32(ctx, &intvl, argv[2]) || JS_ToInt32(ctx, &cnt, argv[3]))
        return JS_EXCEPTION;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0)
        return flussonic_throw_errno(ctx, "setsockopt");
    return JS_UNDEFINED;
}

static JSValue js_set_nodelay(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd, on = JS_ToBool(ctx, argv[1]);
    if (get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
        return flussonic_throw_errno(ctx, "setsockopt");
    return JS_UNDEFINED;
}

/* read(fd, max): ArrayBuffer with data, null at EOF, undefined when nothing is ready. */
static JSValue js_read(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd, max = IO_CHUNK;
    ssize_t n;

    if (get_fd(ctx, &fd, argv[0]) || (argc > 1 && JS_ToInt32(ctx, &max, argv[1])))
        return JS_EXCEPTION;
    if (max <= 0 || max > IO_CHUNK)
        max = IO_CHUNK;
    do
        n = recv(fd, io_buf, (size_t)max, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return JS_NewArrayBufferCopy(ctx, io_buf, (size_t)n);
    if (n == 0)
        return JS_NULL;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return JS_UNDEFINED;
    return flussonic_throw_errno(ctx, "read");
}

/* What send()/sendmsg() returned, as JS: bytes taken, 0 when the socket buffer is full. */
static JSValue send_result(JSContext *ctx, ssize_t n)
{
    if (n >= 0)
        return JS_NewInt32(ctx, (int)n);
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return JS_NewInt32(ctx, 0);
    return flussonic_throw_errno(ctx, "write");
}

/* write(fd, bytes, offset?, length?): bytes taken (0 when the socket buffer is full). */
static JSValue js_write(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd;
    size_t len;
    const uint8_t *p;
    ssize_t n;

    if (get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    p = flussonic_get_bytes_args(ctx, argc, argv, 1, &len);
    if (!p)
        return JS_EXCEPTION;
    do
        n = send(fd, p, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return send_result(ctx, n);
}

/* writeTwo(fd, head, body): as write() of head followed by body, in one sendmsg (a frame header
 * and its payload leave without being concatenated in JS). */
static JSValue js_write_two(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    struct iovec iov[2];
    struct msghdr mh;
    size_t hl, bl;
    ssize_t n;
    int fd;

    if (get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    iov[0].iov_base = flussonic_get_bytes(ctx, argv[1], JS_UNDEFINED, JS_UNDEFINED, &hl);
    iov[1].iov_base = iov[0].iov_base ? flussonic_get_bytes(ctx, argv[2], JS_UNDEFINED, JS_UNDEFINED, &bl) : NULL;
    if (!iov[1].iov_base)
        return JS_EXCEPTION;
    iov[0].iov_len = hl;
    iov[1].iov_len = bl;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    do
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return send_result(ctx, n);
}

static JSValue js_shutdown_write(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd;
    if (get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    shutdown(fd, SHUT_WR);
    return JS_UNDEFINED;
}

static JSValue js_close(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd;
    if (get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    if (fd >= 0)
        close(fd);
    return JS_UNDEFINED;
}

#ifdef FLUSSONIC_TEST_SERVER
/* Test builds only (fake camera in QEMU): the production agent has no way to listen. */
static JSValue js_listen_tcp(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    struct sockaddr_in a;
    int port, fd, on = 1;

    if (JS_ToInt32(ctx, &port, argv[0]))
        return JS_EXCEPTION;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (argc > 1 && !JS_IsUndefined(argv[1])) {
        const char *ip = JS_ToCString(ctx, argv[1]);
        int ok;
        if (!ip)
            return JS_EXCEPTION;
        ok = inet_pton(AF_INET, ip, &a.sin_addr) == 1;
        JS_FreeCString(ctx, ip);
        if (!ok)
            return JS_ThrowRangeError(ctx, "bad listen address");
    }
    fd = new_socket(AF_INET);
    if (fd < 0)
        return flussonic_throw_errno(ctx, "socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
        JSValue e = flussonic_throw_errno(ctx, "listen");
        close(fd);
        return e;
    }
    return JS_NewInt32(ctx, fd);
}

static JSValue js_local_port(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    int fd;
    if (get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        return flussonic_throw_errno(ctx, "getsockname");
    return JS_NewInt32(ctx, ntohs(a.sin_port));
}

/* accept(fd): new non-blocking fd, or undefined when no connection is pending. */
static JSValue js_accept(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd, c;
    if (get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    do
        c = accept(fd, NULL, NULL);
    while (c < 0 && errno == EINTR);
    c = c < 0 ? c : capped_fd(c);
    if (c < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
            return JS_UNDEFINED;
        return flussonic_throw_errno(ctx, "accept");
    }
    fcntl(c, F_SETFD, FD_CLOEXEC);
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    return JS_NewInt32(ctx, c);
}
#endif

static const JSCFunctionListEntry native_funcs[] = {
    JS_CFUNC_DEF("buildInfo", 0, js_build_info),
    JS_CFUNC_DEF("now", 0, js_now),
    JS_CFUNC_DEF("writeOut", 1, js_write_out),
    JS_CFUNC_DEF("writeErr", 1, js_write_err),
    JS_CFUNC_DEF("exit", 1, js_exit),
    JS_CFUNC_DEF("openSyslog", 1, js_open_syslog),
    JS_CFUNC_DEF("log", 2, js_log),
    JS_CFUNC_DEF("randomBytes", 1, js_random_bytes),
    JS_CFUNC_DEF("readFile", 1, js_read_file),
    JS_CFUNC_DEF("writeFileAtomic", 2, js_write_file_atomic),
    JS_CFUNC_DEF("resolveStart", 1, js_resolve_start),
    JS_CFUNC_DEF("resolveResult", 1, js_resolve_result),
    JS_CFUNC_DEF("tcpConnect", 2, js_tcp_connect),
    JS_CFUNC_DEF("connectResult", 1, js_connect_result),
    JS_CFUNC_DEF("setKeepAlive", 4, js_set_keepalive),
    JS_CFUNC_DEF("setNoDelay", 2, js_set_nodelay),
    JS_CFUNC_DEF("read", 2, js_read),
    JS_CFUNC_DEF("write", 4, js_write),
    JS_CFUNC_DEF("writeTwo", 3, js_write_two),
    JS_CFUNC_DEF("shutdownWrite", 1, js_shutdown_write),
    JS_CFUNC_DEF("close", 1, js_close),
#ifdef FLUSSONIC_TEST_SERVER
    JS_CFUNC_DEF("listenTcp", 2, js_listen_tcp),
    JS_CFUNC_DEF("localPort", 1, js_local_port),
    JS_CFUNC_DEF("accept", 1, js_accept),
#endif
};

static int native_init(JSContext *ctx, JSModuleDef *m)
{
    if (flussonic_tls_init(ctx))
        return -1;
    if (JS_SetModuleExportList(ctx, m, native_funcs, N_ELEMS(native_funcs)))
        return -1;
    return JS_SetModuleExportList(ctx, m, flussonic_tls_funcs, flussonic_tls_funcs_count);
}

JSModuleDef *js_init_module_flussonic_native(JSContext *ctx, const char *name)
{
    JSModuleDef *m = JS_NewCModule(ctx, name, native_init);
    if (!m)
        return NULL;
    JS_AddModuleExportList(ctx, m, native_funcs, N_ELEMS(native_funcs));
    JS_AddModuleExportList(ctx, m, flussonic_tls_funcs, flussonic_tls_funcs_count);
    return m;
}
