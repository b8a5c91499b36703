"""The C environments (installed as puffer_learn.envs): one folder per env
holding <name>.h, plus the shared headers puffer_env.h (the contract),
vec_binding.h (the generic binding, which includes its parts vec_*.h) and
raylib.h."""
