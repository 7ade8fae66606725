/*
 * flussonic:native — name resolution. getaddrinfo blocks, so it runs in a short-lived thread
 * that reports through a pipe the event loop watches; numeric addresses are answered at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "native.h"

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

/* resolveStart(host): fd of a pipe that becomes readable when resolveResult(fd) has the answer. */
JSValue native_resolve_start(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
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
JSValue native_resolve_result(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    char line[301];
    ssize_t n, got = 0;
    int fd;

    if (flussonic_get_fd(ctx, &fd, argv[0]))
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
