"""How much ``import danlu`` adds to ``import torch`` (budget: 0.3 s). Medians of fresh
interpreters, alternating the two commands. danlu is byte-compiled first, as ``pip install``
does (torch's bytecode is compiled at its install too): without it, an editable checkout under
``PYTHONDONTWRITEBYTECODE=1`` would time Python compiling danlu's source on every import.

    python benchmarks/import_time.py [--repeats 7]
"""

import argparse
import compileall
import statistics
import subprocess
import sys

CODE = "import time; start = time.perf_counter(); {}; print(time.perf_counter() - start)"


def seconds(statement):
    return float(subprocess.run([sys.executable, "-c", CODE.format(statement)], capture_output=True, text=True, check=True).stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    import danlu  # noqa: PLC0415 - only to find the package (this process' time is not measured)

    compileall.compile_dir(danlu.__path__[0], quiet=1)
    torch_only, with_danlu = [], []
    for _ in range(args.repeats):
        torch_only.append(seconds("import torch"))
        with_danlu.append(seconds("import torch; import danlu"))
    a, b = statistics.median(torch_only), statistics.median(with_danlu)
    print(f"import torch {a:.3f} s, import torch + danlu {b:.3f} s: danlu adds {b - a:.3f} s (budget 0.300 s)")


if __name__ == "__main__":
    main()
