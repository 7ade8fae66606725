/*
 * flussonic:native — TCP client sockets. Everything is non-blocking: calls start an operation
 * and return at once; platform/quickjs.ts waits for readiness with os.setReadHandler and
 * os.setWriteHandler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "native.h"

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

int flussonic_new_socket(int family)
{
    /* SOCK_NONBLOCK/SOCK_CLOEXEC flags exist since 2.6.27; fcntl keeps us independent of them. */
    int fd = flussonic_capped_fd(socket(family, SOCK_STREAM, 0));
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* tcpConnect(ip, port): fd with a connect in progress; wait for writability, then connectResult. */
JSValue native_tcp_connect(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
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
    fd = flussonic_new_socket(ss.ss_family);
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
JSValue native_connect_result(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd, err = 0;
    socklen_t l = sizeof(err);

    if (flussonic_get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
        err = errno;
    if (err == 0)
        return JS_NULL;
    return JS_NewString(ctx, strerror(err));
}

/* setKeepAlive(fd, idleSec, intervalSec, count): notices a dead peer behind a NAT. */
JSValue native_set_keepalive(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd, idle, intvl, cnt, on = 1;
    if (flussonic_get_fd(ctx, &fd, argv[0]) || JS_ToInt32(ctx, &idle, argv[1]) ||
        JS_ToInt32(ctx, &intvl, argv[2]) || JS_ToInt32(ctx, &cnt, argv[3]))
        return JS_EXCEPTION;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0)
        return flussonic_throw_errno(ctx, "setsockopt");
    return JS_UNDEFINED;
}

JSValue native_set_nodelay(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd, on = JS_ToBool(ctx, argv[1]);
    if (flussonic_get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
        return flussonic_throw_errno(ctx, "setsockopt");
    return JS_UNDEFINED;
}

/* read(fd): ArrayBuffer of at most IO_CHUNK bytes, null at EOF, undefined when nothing is ready. */
JSValue native_read(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd;
    ssize_t n;

    if (flussonic_get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    do
        n = recv(fd, flussonic_io_buf, IO_CHUNK, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return JS_NewArrayBufferCopy(ctx, flussonic_io_buf, (size_t)n);
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

/* write(fd, bytes): bytes taken (0 when the socket buffer is full). */
JSValue native_write(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd;
    size_t len;
    const uint8_t *p;
    ssize_t n;

    if (flussonic_get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    p = flussonic_get_bytes(ctx, argv[1], &len);
    if (!p)
        return JS_EXCEPTION;
    do
        n = send(fd, p, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return send_result(ctx, n);
}

/* writeTwo(fd, head, body): as write() of head followed by body, in one sendmsg (a frame header
 * and its payload leave without being concatenated in JS). */
JSValue native_write_two(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    struct iovec iov[2];
    struct msghdr mh;
    size_t hl, bl;
    ssize_t n;
    int fd;

    if (flussonic_get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    iov[0].iov_base = flussonic_get_bytes(ctx, argv[1], &hl);
    iov[1].iov_base = iov[0].iov_base ? flussonic_get_bytes(ctx, argv[2], &bl) : NULL;
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

JSValue native_shutdown_write(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd;
    if (flussonic_get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    shutdown(fd, SHUT_WR);
    return JS_UNDEFINED;
}

JSValue native_close(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd;
    if (flussonic_get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    if (fd >= 0)
        close(fd);
    return JS_UNDEFINED;
}
