/*
 * The static agent binary: QuickJS runtime + quickjs-libc event loop + flussonic:native,
 * running the agent bundle that qjsc compiled to bytecode and that is linked in as
 * `agent_bytecode` (see Makefile). No JavaScript is read from disk.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "quickjs-libc.h"
#include "native.h"

extern const uint8_t agent_bytecode[];
extern const uint32_t agent_bytecode_size;

static JSContext *new_context(JSRuntime *rt)
{
    JSContext *ctx = JS_NewContext(rt);
    if (!ctx)
        return NULL;
    /* Module names as the bundle imports them (build.mjs keeps these external). */
    js_init_module_std(ctx, "std");
    js_init_module_os(ctx, "os");
    js_init_module_flussonic_native(ctx, "flussonic:native");
    return ctx;
}

int main(int argc, char **argv)
{
    JSRuntime *rt;
    JSContext *ctx;

    /* A peer closing a socket must be an error code, not a killed process. */
    signal(SIGPIPE, SIG_IGN);

    rt = JS_NewRuntime();
    if (!rt) {
        fputs("flussonic-agent: cannot allocate the JS runtime\n", stderr);
        return 1;
    }
    /* Camera RAM is scarce: collect garbage early rather than growing the heap. */
    JS_SetGCThreshold(rt, 512 * 1024);
    js_std_set_worker_new_context_func(new_context);
    js_std_init_handlers(rt);
    /* No module loader: every module the bundle imports is registered in new_context, and
     * without one no import can read a file. (Its signature also differs between QuickJS
     * 2025-04-26 and 2025-09-13, which added import attributes.) */
    JS_SetHostPromiseRejectionTracker(rt, js_std_promise_rejection_tracker, NULL);
    ctx = new_context(rt);
    if (!ctx) {
        fputs("flussonic-agent: cannot allocate the JS context\n", stderr);
        return 1;
    }
    js_std_add_helpers(ctx, argc, argv);
    js_std_eval_binary(ctx, agent_bytecode, agent_bytecode_size, 0);
    js_std_loop(ctx);
    js_std_free_handlers(rt);
    JS_FreeContext(ctx);
    JS_FreeRuntime(rt);
    return 0;
}
