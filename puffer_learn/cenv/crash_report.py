"""What a crashed env process left behind, read into one report line.

A student's env runs in a child process twice over: in its smoke run
(build.smoke_run, built with AddressSanitizer) and afterwards in a worker
(isolation.Worker). Wherever it dies, the report has the same shape:

    my_env.h crashed at step 3: SIGABRT (abort() or a failed assert) in my_env.h:42 (env_step)

read from the process's exit status and its stderr: AddressSanitizer's
report, or the stack envs/vec_crash_guard.h printed ("PL_CRASH: ..." and
raw frames, resolved here with addr2line). A memory error AddressSanitizer
found adds its useful lines (where the memory was allocated or freed).
"""
import re
import signal
import subprocess
from pathlib import Path

import puffer_learn.envs

ENVS_DIR = Path(puffer_learn.envs.__file__).parent
# Signals an env's code can die of, and what they usually mean.
SIGNALS = {"SIGSEGV": "invalid memory access", "SIGABRT": "abort() or a failed assert",
           "SIGFPE": "e.g. integer division by zero", "SIGBUS": "misaligned or unmapped memory",
           "SIGILL": "an illegal instruction"}


def crash_report(header, when, stderr, returncode, then=""):
    """'my_env.h crashed WHEN: WHAT in FILE:LINE (FUNCTION)[; THEN]', plus
    AddressSanitizer's details for a memory error on the lines below.
    header: the env's .h path; when: e.g. 'at step 3' or 'during env_render';
    then: what became of the env, if worth saying."""
    header = Path(header)
    asan = re.search(r"ERROR: AddressSanitizer: ([\w-]+)", stderr)
    details = ""
    if asan and "SIG" + asan.group(1) in SIGNALS:  # a signal, caught by ASan's handler
        what = signal_text("SIG" + asan.group(1))
    elif asan:  # a memory error ASan detected: heap-buffer-overflow, use-after-free, ...
        what = f"{asan.group(1)} (AddressSanitizer)"
        details = "\n".join(asan_summary(stderr, header).splitlines()[1:])
    elif returncode < 0:
        what = signal_text(signal.Signals(-returncode).name)
    elif "PL_CRASH: exit()" in stderr:
        what = f"exit({returncode}) was called"
    else:  # no sign of the env's code: show the end of what the process said
        what = f"its process exited with status {returncode}"
        details = stderr.strip()[-2000:].replace(str(header.parent) + "/", "")
    where = crash_location(stderr, header)
    return (f"{header.name} crashed {when}: {what}{' in ' + where if where else ''}"
            + (f"; {then}" if then else "") + (f"\n{details}" if details else ""))


def signal_text(name):
    return f"{name} ({SIGNALS[name]})" if name in SIGNALS else name


def crash_location(stderr, header):
    """'my_env.h:42 (env_step)': the first stack frame in the env's own file,
    else the first with a known C file; '' if the stack names none."""
    frames = re.findall(r"#\d+ 0x[0-9a-f]+ in (\w+) (\S+?):(\d+)", stderr)  # symbolized by ASan
    places = [(function, f"{path}:{line}") for function, path, line in frames] or raw_frames(stderr)
    for function, place in places:
        if Path(place.split(":")[0]).name == header.name:
            return f"{header.name}:{place.rsplit(':', 1)[-1]} ({function})"
    for function, place in places:  # not in the env's own file: name the first C file
        if re.search(r"\.[ch]:\d+$", place):
            return f"{place.replace(str(ENVS_DIR) + '/', 'envs/')} ({function})"
    return ""


def raw_frames(stderr):
    """[(function, 'file:line')] for the frames vec_crash_guard.h printed
    (module.so(+0x1a2b) or module.so(symbol+0x10)), resolved by addr2line."""
    frames = re.findall(r"^(\S+?\.so)\((\w*)\+(0x[0-9a-f]+)\)", stderr, re.M)
    if not frames:
        return []
    library = frames[0][0]
    try:
        nm = subprocess.run(["nm", "--defined-only", library], capture_output=True, text=True,
                            timeout=10).stdout
        symbols = {parts[2]: int(parts[0], 16) for parts in (l.split() for l in nm.splitlines())
                   if len(parts) == 3}
        # - 1: a return address points after the call (past the end of the
        # function when the call never returns, e.g. abort()).
        addresses = [hex(symbols.get(sym, 0) + int(off, 16) - 1) for lib, sym, off in frames
                     if lib == library and (not sym or sym in symbols)]
        lines = subprocess.run(["addr2line", "-f", "-i", "-e", library, *addresses],
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return []
    return [(function, place.split(" (discriminator")[0])
            for function, place in zip(lines[::2], lines[1::2]) if not place.startswith("??")]


def asan_summary(stderr, header):
    """The useful lines of an AddressSanitizer report: what and where, and
    for a bad access where that memory was allocated or freed (with their
    headings, so an allocation frame is not read as a caller)."""
    lines = stderr.splitlines()
    start = next((i for i, l in enumerate(lines) if "ERROR: AddressSanitizer" in l
                  or "runtime error:" in l or l.startswith("PL_CRASH: ")), None)
    if start is None:
        return ""
    keep = [lines[start].split("ERROR: ")[-1].replace("PL_CRASH: ", "")]
    headings = ("READ of", "WRITE of", "allocated by", "freed by", "previously allocated",
                "The signal is caused", "Hint:")
    rest = [re.sub(r"^==\d+==", "", l).strip() for l in lines[start + 1:]]  # drop ==pid==
    keep += [l for l in rest if header.name in l or l.startswith(headings) or " is located " in l][:11]
    return "\n".join(keep).replace(str(header.parent) + "/", "")
