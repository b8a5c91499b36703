// vec_crash_guard.h: crash reports from a student's env (part of
// vec_binding.h; not in the WebAssembly build, WASI has no signals).
//
// [DESIGN] A student's env runs in a worker process (or the smoke run's
// subprocess). When its code dies there, this prints "PL_CRASH: <what>" and
// the stack to stderr, so the parent (puffer_learn/cenv/crash_report.py) can name
// the signal and the env's file:line:
//   - signals (segfault, abort, ...): a handler prints the stack, then lets
//     the signal kill the process as it would have;
//   - exit() called by env code: an atexit hook prints the stack; the
//     process calls pl_guard(0) before its own, normal exit.
// Under AddressSanitizer (the smoke run) ASan reports signals itself, with
// file:line; only the exit() hook is ours, using ASan's symbolizing printer.
#include <signal.h>
#include <unistd.h>
#include <execinfo.h>

static volatile sig_atomic_t pl_guard_on = 0;
#ifdef __SANITIZE_ADDRESS__
void __sanitizer_print_stack_trace(void);
#endif

static void pl_print_stack(const char* what) {
    const char* head = "PL_CRASH: ";
    if (write(2, head, strlen(head)) < 0 || write(2, what, strlen(what)) < 0 || write(2, "\n", 1) < 0) return;
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_print_stack_trace();
#else
    void* frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
#endif
}

static void pl_on_exit(void) {
    if (pl_guard_on) pl_print_stack("exit() was called inside the env's code");
}

#ifndef __SANITIZE_ADDRESS__
// Only the signal's name: the parent reads which signal it was from the exit
// status and explains it (crash_report.py).
static void pl_on_signal(int sig) {
    pl_guard_on = 0;
    pl_print_stack(sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE"
                   : sig == SIGILL ? "SIGILL" : "SIGABRT");
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

void pl_guard(int on) {
    static int installed = 0;
    pl_guard_on = on;
    if (!on || installed) return;
    installed = 1;
    atexit(pl_on_exit);
#ifndef __SANITIZE_ADDRESS__
    void* warm[1];
    backtrace(warm, 1);  // loads libgcc's unwinder now, not inside a signal handler
    static char alt[1 << 16];  // a stack for the handler, so stack overflows report too
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pl_on_signal;
    sa.sa_flags = SA_ONSTACK;
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (int k = 0; k < 5; k++) sigaction(sigs[k], &sa, NULL);
#endif
}
