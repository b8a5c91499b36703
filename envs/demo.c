// demo.c: an env and its trained policy as one C program, no Python.
//
// `puffer-learn export ENV --checkpoint P --out DIR` compiles this file with
//   -DENV_HEADER='"target/target.h"' -DDEMO_CONFIG='"DIR/ENV_config.h"'
// where ENV_config.h holds the env settings the policy was trained with
// (demo_config), the env's name and its Log field names. It reuses the same
// binding as Python (vec_binding.h), so the env loop, auto-reset and logs are
// exactly the ones training saw; it plays as the web page does (demo_play.h).
//
//   ./target_demo [--weights F] [--episodes N] [--seed S] [--argmax] [--frames DIR]
// prints one JSON line: {"env": ..., "episodes": N, "score": ..., ...}
// A continuous env plays the policy's mean action (--argmax changes nothing).
#include <sys/stat.h>
#include ENV_HEADER
#include "vec_binding.h"
#include "puffernet.h"
#include "demo_play.h"
#include DEMO_CONFIG

static void usage(const char* prog) {
    fprintf(stderr, "usage: %s [--weights FILE] [--episodes N] [--seed S] [--argmax] "
            "[--frames DIR] [--max-frames N]\n", prog);
    exit(2);
}

int main(int argc, char** argv) {
    char weights[4096];
    snprintf(weights, sizeof weights, "%s.bin", argv[0]);  // default: next to the program
    int episodes = 10, argmax = 0, max_frames = 300;
    uint64_t seed = 0;
    const char* frames_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--weights") && i + 1 < argc) snprintf(weights, sizeof weights, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--episodes") && i + 1 < argc) episodes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc) frames_dir = argv[++i];
        else if (!strcmp(argv[i], "--max-frames") && i + 1 < argc) max_frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--argmax")) argmax = 1;
        else usage(argv[0]);
    }
    if (episodes < 1) usage(argv[0]);
    setenv("SDL_VIDEODRIVER", "dummy", 0);  // frames need no display
    if (frames_dir) mkdir(frames_dir, 0755);  // fine if it exists already

    Config cfg;
    demo_config(&cfg);
    char err[512];
    Spaces sp;
    if (pl_checked_spaces(&cfg, &sp, err, sizeof err)) { fprintf(stderr, "error: %s\n", err); return 1; }

    PufferNet net;
    DemoPlay play;
    if (puffernet_load(&net, weights, sp.obs_size, 0, err, sizeof err)  // demo_start checks the outputs
        || demo_start(&play, &cfg, &sp, &net, weights, argmax, seed, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    uint8_t* rgb = NULL;
    if (frames_dir && !(rgb = demo_calloc("a frame", (size_t)sp.render_width * sp.render_height, 3,
                                          err, sizeof err))) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }

    int frame = 0;
    while (play.total.n < episodes) {
        int refused = demo_tick(&play);
        if (refused) {
            fprintf(stderr, "error: the policy's action %d is not a finite number (NaN or inf); "
                    "export a checkpoint from before training diverged\n", refused - 1);
            return 1;
        }
        if (rgb && frame < max_frames) {
            if (!pl_vec_render(play.vec, 0, rgb, 1.0f)) { fprintf(stderr, "error: no window for frames\n"); return 1; }
            Image img = {rgb, sp.render_width, sp.render_height, 1, PIXELFORMAT_UNCOMPRESSED_R8G8B8};
            char path[4200];
            snprintf(path, sizeof path, "%s/frame_%05d.png", frames_dir, frame++);
            if (!ExportImage(img, path)) { fprintf(stderr, "error: cannot write %s\n", path); return 1; }
        }
    }
    if (rgb && IsWindowReady()) CloseWindow();

    // One JSON line: every Log field as a mean over the episodes played.
    const Log* total = &play.total;
    printf("{\"env\": \"%s\", \"episodes\": %d, \"policy\": \"%s\"", ENV_NAME, (int)total->n,
           demo_policy_name(&play));
    for (size_t k = 0; k < sizeof(LOG_FIELDS) / sizeof(LOG_FIELDS[0]); k++)
        printf(", \"%s\": %.6g", LOG_FIELDS[k], ((const float*)total)[k] / total->n);
    printf(", \"frames\": %d}\n", frame);
    pl_vec_close(play.vec);
    puffernet_free(&net);
    return 0;
}
