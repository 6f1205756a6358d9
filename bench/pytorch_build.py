"""What PyTorch build runs the benchmark's PyTorch rows: prints one JSON line
with torch's version, its build configuration (torch.__config__.show():
oneDNN/MKL-DNN version, BLAS_INFO, CPU capability) and the BLAS libraries
this process actually loaded, after one matrix product, read from
/proc/self/maps: Debian's torch links the generic libblas.so.3, and which
BLAS that is (OpenBLAS pthread or OpenMP, reference) depends on the
alternatives and on LD_LIBRARY_PATH, which bench/_pytorch.ts sets.
bench/_pytorch.ts turns it into one line.
"""

import json
import re

import torch

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
}))
