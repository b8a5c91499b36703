// raylib.h: raylib's API for puffer_learn envs.
//
// The raylib wheel ships its header as "raylib.h.modified" (stripped of
// macros so cffi can read it). This shim includes it and adds back what C
// code needs: bool and the named colors. The binding links envs against the
// wheel's own library, so every raylib function is available.
#ifndef PL_RAYLIB_H
#define PL_RAYLIB_H
#include <stdbool.h>
#include "raylib.h.modified"

#include "raylib_colors.h"
#endif
