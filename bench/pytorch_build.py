"""What PyTorch build runs the benchmark's PyTorch rows: prints one JSON line
with torch's version, its build configuration (torch.__config__.show():
oneDNN/MKL-DNN version, BLAS_INFO, CPU capability) and the BLAS libraries
this process actually loaded, after one matrix product, read from
/proc/self/maps: Debian's torch links the generic libblas.so.3, and which
BLAS that is (OpenBLAS pthread or OpenMP, reference) depends on the
alternatives and on LD_LIBRARY_PATH, which bench/_pytorch.ts sets.
It also prints the instruction set oneDNN dispatches to on this CPU (its
verbose mode names it when the first primitive runs): the config says which
oneDNN was built, not whether it runs 512-bit AVX-512 or 256-bit AVX2 here,
which `ONEDNN_MAX_CPU_ISA` can cap; and the kernels OpenBLAS picked for this
CPU (`openblas_get_corename`: an OpenBLAS older than the CPU falls back to
an older core's, e.g. Haswell's AVX2 kernels on a Zen 5). bench/_pytorch.ts
turns it into one line.
"""

import ctypes
import json
import os
import re
import tempfile

import torch


def onednn_isa():
    """oneDNN's "isa:" line for one channels-last convolution, or None.

    oneDNN writes its verbose lines to the process's stdout, so fd 1 goes to
    a temporary file for that one call and this script's JSON stays alone.
    """
    if not torch.backends.mkldnn.is_available():
        return None
    x = torch.ones(2, 16, 8, 8).to(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(16, 16, 3, padding=1).to(
        memory_format=torch.channels_last)
    with tempfile.TemporaryFile(mode="w+b") as log:
        saved = os.dup(1)
        os.dup2(log.fileno(), 1)
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                conv(x)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        log.seek(0)
        text = log.read().decode(errors="replace")
    found = re.search(r"onednn_verbose,info,cpu,isa:([^\n]+)", text)
    return found.group(1).strip() if found else None


def openblas_core(paths):
    """OpenBLAS's name for the kernels it runs, or None if none says."""
    for path in paths:
        try:
            corename = ctypes.CDLL(path).openblas_get_corename
        except (OSError, AttributeError):
            continue
        corename.restype = ctypes.c_char_p
        return corename().decode(errors="replace")
    return None


torch.mm(torch.ones(64, 64), torch.ones(64, 64))
libs = set()
try:
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if re.search(r"blas|mkl|blis|lapack", path):
                libs.add(path)
except OSError:  # not Linux: the configuration alone says what it can
    pass
print(json.dumps({
    "version": torch.__version__,
    "config": torch.__config__.show(),
    "libraries": sorted(libs),
    "onednn_isa": onednn_isa(),
    "blas_core": openblas_core(sorted(p for p in libs if "blas" in p)),
}))
