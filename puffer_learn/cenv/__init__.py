"""C envs: compile an env header into a Python module (cffi), step many copies
of it from shared numpy buffers (VecEnv, in this process or in an isolated
worker), render its frames, time and profile it. Imports nothing else of puffer_learn."""
