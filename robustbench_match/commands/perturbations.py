"""`rbm perturbations`: the perturbation families (what each does, INV or DIR, its settings and what implements
it), the tasks' directional expectations, and the MFT template files with their tests — what the perturbation
suite can run, before running it."""
from __future__ import annotations

import argparse
import json

HELP = "list the perturbation families, the tasks' DIR expectations and the MFT template files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--include-path", action="append", default=[], metavar="DIR",
                        help="folder of task and MFT template YAML files (repeatable; also $RBM_INCLUDE_PATH)")


def describe(include: list[str]) -> dict:
    from ..perturbations import FAMILIES, FAMILY_ORDER, expectations
    from ..perturbations.mft import mft_files
    from ..tasks import TASKS, get_task, load_task_files

    load_task_files(include)
    families = [{"family": f, "test": FAMILIES.get(f).test, "seeded": FAMILIES.get(f).seeded,
                 "settings": FAMILIES.get(f).settings, "what": FAMILIES.get(f).summary, "source": FAMILIES.get(f).source}
                for f in FAMILY_ORDER]
    dirs = {t: {f: e.as_dict() for f, e in expectations(get_task(t)).items()} for t in TASKS.names()}
    mfts = [{"mft": m.name, "tasks": list(m.tasks), "tests": [t.name for t in m.tests], "file": m.path}
            for m in mft_files(include).values()]
    return {"families": families, "expectations": {t: e for t, e in dirs.items() if e}, "mft": mfts}


def run(args: argparse.Namespace) -> int:
    info = describe(args.include_path)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    from tabulate import tabulate

    print(tabulate([(f["family"], f["test"], "yes" if f["seeded"] else "no",
                     ", ".join(f"{k}={v}" for k, v in f["settings"].items()) or "–", f["what"], f["source"])
                    for f in info["families"]],
                   headers=["family", "test", "seeded", "settings", "what it does", "implemented by"], tablefmt="plain"))
    print("\nDirectional expectations (a DIR family runs only on tasks that declare one):")
    for task, entries in info["expectations"].items():
        for family, e in entries.items():
            extra = ", ".join(f"{k}={v}" for k, v in e.items() if k != "expect" and v not in (None, 0.0))
            print(f"  {task}: {family} → {e['expect']}{' (' + extra + ')' if extra else ''}")
    print("\nMFT template files:")
    for m in info["mft"]:
        print(f"  {m['mft']} (tasks {', '.join(m['tasks'])}; {m['file']}): {'; '.join(m['tests'])}")
    return 0
