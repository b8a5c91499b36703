"""The target env started from hand-placed scenes, for tests that check
observations, rewards and frames against numbers worked out by hand.

Why this way: the packaged target.h places everything at random and has no
test hook (nor should it). So we build a user env from target.h's own text,
through the same path a student's env takes (make(source_string)), with two
small additions (envs/target_continuous/ shows the other way, a header that
`#include`s target.h, which build.py reads whole):
- a `scene` int setting in Config (0 = target's usual random start);
- a macro renames target's env_reset so that a new env_reset can call it and
  then move puffers and stars to known coordinates.
Step, rewards, observations and rendering stay target.h's code, unchanged.
Auto-reset goes through the new env_reset too, so every episode of a scene
starts from the same placement.
"""
import puffer_learn
from puffer_learn.cenv.build import ENVS_DIR

TARGET_SOURCE = (ENVS_DIR / "target" / "target.h").read_text()

SCENES_C = r"""
#undef env_reset
enum { SCENE_RANDOM = 0, SCENE_BASIC = 1, SCENE_DOUBLE = 2, SCENE_FRAME = 3 };

static void env_reset(Env* env) {
    target_env_reset(env);  // random placement, tick 0, counters cleared
    Puffer* p = env->puffers;
    Star* s = env->stars;
    switch (env->cfg.scene) {
    case SCENE_BASIC:   // 2 puffers, 2 stars
        p[0].x = 100; p[0].y = 200; p[0].heading = 0;
        p[1].x = 160; p[1].y = 40;  p[1].heading = 2;
        s[0] = (Star){132, 200};
        s[1] = (Star){300, 300};
        break;
    case SCENE_DOUBLE:  // 1 puffer, 2 stars on the same spot just east of it
        p[0].x = 50; p[0].y = 50; p[0].heading = 0;
        s[0] = (Star){54, 50};
        s[1] = (Star){54, 50};
        break;
    case SCENE_FRAME:   // 1 puffer bottom-left, 1 star top-right
        p[0].x = 80; p[0].y = 240; p[0].heading = 0;
        s[0] = (Star){240, 80};
        break;
    }
    write_observations(env);
}
"""

# The settings each scene needs (its counts of puffers and stars).
SCENE_CONFIG = {
    "random": {},
    "basic": {"num_puffers": 2, "num_stars": 2},
    "double": {"num_puffers": 1, "num_stars": 2},
    "frame": {"num_puffers": 1, "num_stars": 1},
}


def scene_source():
    anchor = "typedef struct Config {\n"
    assert TARGET_SOURCE.count(anchor) == 1, "target.h's Config struct changed: update tests/scenes.py"
    source = TARGET_SOURCE.replace(anchor, anchor + "    int scene;  // test-only: see tests/scenes.py\n")
    return "#define env_reset target_env_reset\n" + source + SCENES_C


def make_scene(scene, num_envs=1, seed=0, **config):
    """A VecEnv of target envs that start from the named scene."""
    settings = {**SCENE_CONFIG[scene], **config}
    return puffer_learn.make(scene_source(), name="target_scenes", num_envs=num_envs, seed=seed,
                             scene=scene, **settings)
