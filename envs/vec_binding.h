// vec_binding.h: the one generic binding. puffer_learn compiles
//
//     #include "your_env.h"
//     #include "vec_binding.h"
//
// into a Python extension with cffi. It turns any env that follows
// puffer_env.h into a vectorized env: num_envs copies of Env whose buffer
// pointers are slices of the shared numpy arrays. One Python call steps them
// all; C loops over envs (optionally split over a few threads).
//
// It is five headers, one concern each, included here in order:
//   vec_threads.h      the thread pool that splits one step over threads
//   vec_actions.h      the actions buffer: discrete or continuous, its check
//   vec_core.h         the env core: init, reset, step, log, close
//   vec_crash_guard.h  crash reports from a student's env (signals, exit())
//   vec_window.h       one env drawn into an RGB frame by raylib
//
// PL_CORE_ONLY (defined by the WebAssembly build, puffer_learn/export/web.py)
// keeps only the core, on one thread: no raylib window, no frame read-back and
// no crash reports, which need POSIX calls WASI lacks (threads, dup, signals,
// backtraces). The page draws through envs/web/raylib_canvas.h.
#include "vec_threads.h"
#include "vec_actions.h"
#include "vec_core.h"
#ifndef PL_CORE_ONLY
#include "vec_crash_guard.h"
#include "vec_window.h"
#endif
