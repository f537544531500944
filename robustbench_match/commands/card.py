"""``rbm card RUN --model NAME``: a Hugging Face Hub model card (README.md) holding that model's stored results as
``model-index`` eval results; ``--push REPO`` uploads it (``--with-records DATASET_REPO``: the records too)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import RBMError
from ..inputs import seed_arg

HELP = "write a Hugging Face Hub model card (model-index eval results) for one model's stored results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="RUN", help="result folders (the --output of rbm run)")
    parser.add_argument("--model", required=True, help="the model (a row name of the results)")
    parser.add_argument("--seed", type=seed_arg, help="its training seed, when the results hold several")
    parser.add_argument("--output", "-o", default="README.md",
                        help="the card file to write; an existing one is refused unless --update merges into it")
    parser.add_argument("--update", action="store_true",
                        help="merge into an existing card: entries for the same data, metric and condition are "
                             "replaced, everything else (other results, the text) is kept")
    parser.add_argument("--base-model", help="the base model's hub id for the card's metadata (default: the "
                                             "checkpoint card's, when it is a hub id)")
    parser.add_argument("--source-url", help="where the results can be seen (the eval results' source; default: "
                                             "robustbench-match's PyPI page)")
    parser.add_argument("--push", metavar="REPO", help="upload the card as README.md of this model repo (HfApi; the "
                                                       "token from `huggingface-cli login` or $HF_TOKEN)")
    parser.add_argument("--with-records", metavar="DATASET_REPO",
                        help="with --push: upload the model's records to this dataset repo (records/MODEL.jsonl)")


def run(args: argparse.Namespace) -> int:
    from ..model_card import build_card, merge_into, model_records, push
    from ..results import atomic_write_text, load_records

    if args.with_records and not args.push:
        raise RBMError("--with-records needs --push REPO (the records go beside the pushed card)")
    records = load_records(args.dirs)
    card = build_card(records, args.model, args.seed, args.base_model, args.source_url)
    out = Path(args.output)
    if out.is_dir():
        out = out / "README.md"
    if out.exists() or out.is_symlink():
        if not args.update:
            raise RBMError(f"--output {out}: already exists; pass --update to merge these results into it (nothing "
                           f"was written)")
        if out.is_symlink() or not out.is_file():
            raise RBMError(f"--output {out}: not a regular file (a link or a folder); nothing was written")
        card = merge_into(out, card)
    try:
        atomic_write_text(out, str(card))
    except OSError as exc:
        raise RBMError(f"--output {out}: cannot write ({exc.strerror or exc})") from None
    n = len(card.data.eval_results or [])
    print(f"{out}: model card with {n} eval result(s) for {args.model}")
    if args.push:
        for url in push(card, args.push, model_records(records, args.model, args.seed), args.with_records, args.model):
            print(f"pushed: {url}")
    return 0
