"""Export: a trained policy as a weight file for envs/puffernet.h, the
standalone C program (env + policy), and the WebAssembly page. Builds on
cenv/ and training/."""
