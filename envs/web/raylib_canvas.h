// raylib_canvas.h: the raylib calls the envs draw with, for the web page.
//
// raylib itself cannot be built to WebAssembly offline, and the envs need only
// a handful of 2D draw calls. This header (included before the env header by
// envs/web/web_main.c) defines the raylib types and colours the envs use and
// turns each draw call into a wasm import of module "draw", which
// envs/web/player.js implements on a Canvas 2D context. env_render stays
// unchanged. Colours travel as one packed uint32 (r | g<<8 | b<<16 | a<<24).
//
// [CONTRACT] Only the calls below exist. An env that calls another raylib
// function does not build: the compiler stops at the call ("call to
// undeclared function 'DrawCircle'"), and puffer_learn/export/web.py turns that into
// a one-line error naming the call. To draw with it in the page, add it here
// (a static inline that calls a new import) and to DRAW in player.js.
#ifndef PL_RAYLIB_CANVAS_H
#define PL_RAYLIB_CANVAS_H
#define PL_RAYLIB_H  // envs/raylib.h (the native raylib) then adds nothing
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>

typedef struct Vector2 { float x, y; } Vector2;
typedef struct Color { unsigned char r, g, b, a; } Color;
typedef struct Rectangle { float x, y, width, height; } Rectangle;

#include "../raylib_colors.h"

#define PL_DRAW(name) __attribute__((import_module("draw"), import_name(name)))
PL_DRAW("clear") void pl_draw_clear(uint32_t rgba);
PL_DRAW("circle") void pl_draw_circle(float x, float y, float r, uint32_t rgba);
PL_DRAW("line") void pl_draw_line(float x0, float y0, float x1, float y1, float thick, uint32_t rgba);
PL_DRAW("rect") void pl_draw_rect(float x, float y, float w, float h, uint32_t rgba);
PL_DRAW("poly") void pl_draw_poly(const float* xy, int n, int filled, uint32_t rgba);
PL_DRAW("text") void pl_draw_text(const char* text, float x, float y, float size, uint32_t rgba);

static inline uint32_t pl_rgba(Color c) {
    return (uint32_t)c.r | (uint32_t)c.g << 8 | (uint32_t)c.b << 16 | (uint32_t)c.a << 24;
}

static inline void ClearBackground(Color c) { pl_draw_clear(pl_rgba(c)); }
static inline void DrawCircleV(Vector2 c, float radius, Color col) { pl_draw_circle(c.x, c.y, radius, pl_rgba(col)); }
static inline void DrawLineEx(Vector2 a, Vector2 b, float thick, Color c) {
    pl_draw_line(a.x, a.y, b.x, b.y, thick, pl_rgba(c));
}
static inline void DrawRectangle(int x, int y, int w, int h, Color c) { pl_draw_rect(x, y, w, h, pl_rgba(c)); }
static inline void DrawTriangle(Vector2 a, Vector2 b, Vector2 c, Color col) {
    float xy[6] = {a.x, a.y, b.x, b.y, c.x, c.y};
    pl_draw_poly(xy, 3, 1, pl_rgba(col));
}
static inline void DrawTriangleLines(Vector2 a, Vector2 b, Vector2 c, Color col) {
    float xy[6] = {a.x, a.y, b.x, b.y, c.x, c.y};
    pl_draw_poly(xy, 3, 0, pl_rgba(col));
}
// As raylib: vertex k at angle rotation + k * 360 / sides degrees.
static inline void DrawPolyLines(Vector2 center, int sides, float radius, float rotation, Color c) {
    float xy[2 * 64];
    if (sides < 3) sides = 3;
    if (sides > 64) sides = 64;
    for (int k = 0; k < sides; k++) {
        float angle = (rotation + 360.0f * k / sides) * 0.017453292519943295f;
        xy[2 * k] = center.x + cosf(angle) * radius;
        xy[2 * k + 1] = center.y + sinf(angle) * radius;
    }
    pl_draw_poly(xy, sides, 0, pl_rgba(c));
}
static inline void DrawText(const char* text, int x, int y, int size, Color c) {
    pl_draw_text(text, x, y, size, pl_rgba(c));
}
// As raylib: a formatted string in one of a few rotating static buffers.
static inline const char* TextFormat(const char* fmt, ...) {
    static char buffers[4][512];
    static int next = 0;
    char* out = buffers[next];
    next = (next + 1) % 4;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, sizeof buffers[0], fmt, ap);
    va_end(ap);
    return out;
}
#endif
