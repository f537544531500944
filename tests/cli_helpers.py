"""Running ``rbm`` in-process in a test: (exit code, stdout, stderr), argparse's exits included."""
from __future__ import annotations

from robustbench_match.cli import main


def rbm(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
