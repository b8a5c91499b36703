"""Course tooling: checking students' C code, running lesson experiments over
seeds, and the executed lesson copies the docs site publishes. Builds on the
layers below it."""
