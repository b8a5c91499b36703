// vec_window.h: one env drawn into an RGB frame through raylib's window
// (part of vec_binding.h; not in the WebAssembly build, whose page draws
// through envs/web/raylib_canvas.h instead).
#include <fcntl.h>
#include <unistd.h>

// Opens (or resizes) the one raylib window of this process. Under
// SDL_VIDEODRIVER=dummy it is an offscreen software framebuffer.
static int pl_open_window(int width, int height) {
    if (IsWindowReady()) {
        if (GetScreenWidth() == width && GetScreenHeight() == height) return 1;
        CloseWindow();
    }
    SetTraceLogLevel(LOG_ERROR);
    // The software renderer prints an INFO line to stdout whatever the log
    // level; hide it so command-line tools keep a clean stdout.
    fflush(stdout);
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    InitWindow(width, height, "puffer_learn");
    fflush(stdout);
    if (devnull >= 0) { dup2(saved, 1); close(devnull); }
    close(saved);
    if (!IsWindowReady()) return 0;
    SetTargetFPS(0);
    // The first frame read back after opening is empty: draw one and drop it.
    BeginDrawing(); ClearBackground(BLACK); EndDrawing();
    Image warmup = LoadImageFromScreen();
    UnloadImage(warmup);
    return 1;
}

// Draws env i at moment t of its last step (1 = now) and copies the frame
// into rgb (height * width * 3 bytes). Returns 0 when no window could open.
int pl_vec_render(VecEnv* v, int i, uint8_t* rgb, float t) {
    int w = v->spaces.render_width, h = v->spaces.render_height;
    if (!pl_open_window(w, h)) return 0;
    v->envs[i].render_t = t;
    BeginDrawing();
    env_render(&v->envs[i]);
    EndDrawing();
    Image img = LoadImageFromScreen();
    if (img.data == NULL || img.width != w || img.height != h) { UnloadImage(img); return 0; }
    // The software renderer hands back BGRA rows bottom-up: swap to RGB,
    // drop alpha and flip rows so row 0 is the top of the arena.
    const uint8_t* px = (const uint8_t*)img.data;
    for (int y = 0; y < h; y++) {
        const uint8_t* src = px + (size_t)(h - 1 - y) * w * 4;
        uint8_t* dst = rgb + (size_t)y * w * 3;
        for (int x = 0; x < w; x++) {
            dst[3 * x + 0] = src[4 * x + 2];
            dst[3 * x + 1] = src[4 * x + 1];
            dst[3 * x + 2] = src[4 * x + 0];
        }
    }
    UnloadImage(img);
    return 1;
}
