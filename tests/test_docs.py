"""Issue 39: the README is a front page (≤ 12,000 characters, the two set-up commands `.ci/run` relies on, links that
resolve) and every page the site's navigation names exists; `.ci/run` builds the site with `mkdocs build --strict`."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_a_front_page_with_the_two_set_up_commands():
    assert len(README) <= 12_000, len(README)
    setup = README.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)\n```", setup, flags=re.S)
    assert len(blocks) >= 2 and "rbm run quickstart" in blocks[0]
    assert blocks[1] in (ROOT / ".ci" / "run").read_text()  # CI runs the README's test command verbatim


def test_every_link_of_the_readme_and_every_page_of_the_site_exists():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    pages = [next(iter(item.values())) for item in nav]
    assert all((ROOT / "docs" / page).is_file() for page in pages)
    assert sorted(p.name for p in (ROOT / "docs").glob("*.md")) == sorted(pages)  # no orphan page
    assert "mkdocs build --strict" in (ROOT / ".ci" / "run").read_text()
