"""`rbm resources`: every attack recipe, the resources it needs, and whether each is present.

Checks only the disk (and, for absent downloadable resources, nothing else): it never downloads
and never imports textattack, so it answers in a second, offline.
"""
from __future__ import annotations

import argparse

from ..attacks.environment import configure_nltk, is_offline, ta_cache_dir
from ..attacks.recipes import RECIPES
from ..attacks.resources import RESOURCES, lm_dir

HELP = "list attack recipes and whether their resources are present"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipes", nargs="*", help="recipes to show (wildcards allowed; default: all)")
    parser.add_argument("--data-dir", default=None, help="data root; its nltk_data/ folder is used for NLTK")


def _selected(patterns: list[str]) -> list[str]:
    if not patterns:
        return RECIPES.names()
    names: list[str] = []
    for pattern in patterns:
        found = RECIPES.names(pattern) or [RECIPES.canonical(pattern)]
        names += [n for n in found if n not in names]
    return names


def run(args) -> int:
    configure_nltk(args.data_dir)
    status = {name: res.present() for name, res in RESOURCES.items()}
    print(f"TA_CACHE_DIR={ta_cache_dir()}  offline={'yes' if is_offline() else 'no'}  "
          f"RBM_LM_DIR={lm_dir() or '-'}")
    missing_used: list[str] = []
    for name in _selected(args.recipes):
        spec = RECIPES.get(name)
        absent = [r for r in spec.resources if not status[r]]
        state = "ready" if not absent else "missing " + str(len(absent))
        print(f"\n{name:<16} {state:<10} ({spec.paper}; {spec.target.split(':')[1]})")
        for res_name in spec.resources:
            print(f"  [{'x' if status[res_name] else ' '}] {res_name}  {RESOURCES[res_name].description}")
        missing_used += [r for r in absent if r not in missing_used]
    if missing_used:
        print("\nHow to provide the missing resources:")
        for res_name in missing_used:
            print(f"  {res_name}: {RESOURCES[res_name].hint()}")
    return 0
