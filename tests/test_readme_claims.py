"""The README's and the docs' checkable claims match the code (issue 15, item 8).

Links to files (and their ``#anchors``) resolve, the repository paths they name exist, the
command synopses name only options the parser has, every scheduler they name as a built-in
is registered, the shipped-scenario table covers every file of ``scenarios/`` with the
counts the files hold, and a run writes what the README's table lists. ``docs/report.md``
is checked for its links only (its text belongs to the report's own issue).
"""

from __future__ import annotations

import configparser
import re
import unicodedata
from pathlib import Path

import pytest

from mecsim.cli import _parser
from mecsim.config import load_scenario
from mecsim.registry import registered

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
OWN = [README, *(p for p in DOCS if p.name != "report.md")]
# Repository folders whose files the docs name as `folder/...` (a path, not a gym id).
REPO_DIRS = ("scenarios", "analysis", "benchmarks", "docs", "tests", "mecsim", "schedulers",
             ".ci")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to ``-``."""
    text = heading.strip().lower().replace("`", "")
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # no code "headings"
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_link_to_a_file_resolves_with_its_anchor(page):
    bad = []
    for link in _links(page):
        if re.match(r"[a-z]+:", link):  # http:, https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        file = (page.parent / target).resolve() if target else page
        if not file.exists():
            bad.append(f"{link}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            bad.append(f"{link}: no heading #{anchor} in {file.name}")
    assert not bad, f"{_rel(page)}: {bad}"


@pytest.mark.parametrize("page", OWN, ids=_rel)
def test_every_repository_path_named_exists(page):
    names = set(re.findall(r"`([\w.-]+/[\w./-]*)`", page.read_text()))
    paths = [n for n in names if n.split("/")[0] in REPO_DIRS
             and not re.search(r"[A-Z]{3,}|\.\.\.", n)  # DIR, NAME, TIME: placeholders
             and not re.search(r"-v\d+$", n)  # a gym id, mecsim/Paper-v0
             and not n.startswith("mecsim/scenarios/")]  # scenarios/, as a wheel ships it
    missing = [p for p in paths if not (ROOT / p).exists()
               and not (page.parent / p).exists()]
    assert not missing, f"{_rel(page)}: {missing}"


def _synopses(page: Path) -> list[str]:
    """The ``python -m mecsim ...`` / ``mecsim ...`` lines of a page's code blocks."""
    blocks = re.findall(r"```\w*\n(.*?)```", page.read_text(), flags=re.S)
    lines = [line.strip() for b in blocks for line in b.replace("\\\n", " ").splitlines()]
    out: list[str] = []
    going_on = False  # the line before was a synopsis (or went on with one)
    for line in lines:  # a synopsis may go on over indented lines: "   [--quick]"
        if line.startswith("[") and going_on:
            out[-1] += " " + line
        elif re.match(r"(python -m )?mecsim ", line):
            out.append(line)
        else:
            going_on = False
            continue
        going_on = True
    return [re.sub(r"^(python -m )?mecsim ", "", x).split("#")[0] for x in out]


@pytest.mark.parametrize("page", OWN, ids=_rel)
def test_every_option_in_a_command_line_exists_in_that_commands_parser(page):
    parser = _parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    top = {s for a in parser._actions for s in a.option_strings}
    bad = []
    for line in _synopses(page):
        words = line.split()
        if not words:
            continue
        command = commands.get(words[0])
        options = top if command is None else {
            s for a in command._actions for s in a.option_strings}
        if command is None and not words[0].startswith("-"):
            bad.append(f"{line}: no command {words[0]!r}")
            continue
        for option in re.findall(r"(?<![\w-])--[a-z][\w-]*", line):
            if option not in options:
                bad.append(f"{line}: {words[0]} has no {option}")
    assert not bad, f"{_rel(page)}: {bad}"


def test_the_readme_lists_every_option_of_run_and_every_command():
    parser = _parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    section = README.read_text().split("## Commands", 1)[1].split("\n## ", 1)[0]
    run_line = next(line for line in section.splitlines() if "mecsim run " in line)
    listed = set(re.findall(r"--[a-z][\w-]*", run_line))
    options = {s for a in commands["run"]._actions for s in a.option_strings
               if s.startswith("--") and s != "--help"}
    assert options <= listed, options - listed
    for name, command in commands.items():
        assert "``" not in command.format_help(), name  # no RST markup in any help
    assert "``" not in parser.format_help()


def test_every_scheduler_the_docs_name_is_registered():
    ids = set(registered())
    text = README.read_text()
    paragraph = text.split("Built-in schedulers:", 1)[1].split("\n\n", 1)[0]
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    extras = set(cfg["options.extras_require"])  # `learn` names an extra, not a scheduler
    named = {n for n in re.findall(r"`([a-z_]+)`", paragraph)} - extras
    assert named and named <= ids, named - ids
    for page in OWN:
        for name in re.findall(r"--scheduler ([a-z_]+)\b(?![.:/])", page.read_text()):
            assert name in ids or name in ("sb3", "module"), (_rel(page), name)
    table = (ROOT / "schedulers" / "__init__.py").read_text()
    listed = set(re.findall(r"^([a-z_]+) +``schedulers\.", table, flags=re.M))
    assert listed == ids  # the package's table of built-ins: every one, no other


def _claims(text: str) -> dict[str, float]:
    """The counts a description states: IoTDs, MECs, slots, fading step [s], area [m]."""
    found = {}
    patterns = {"iotds": r"(\d+)(?: [a-z]+)? IoTDs", "mecs": r"(\d+) MECs",
                "slots": r"(\d+) slots", "step_ms": r"(\d+) ms steps|every (\d+) ms",
                "area": r"(\d+) m x \d+ m"}
    for key, pattern in patterns.items():
        hit = re.search(pattern, text)
        if hit:
            found[key] = float(next(g for g in hit.groups() if g))
    return found


def _facts(name: str) -> dict[str, float]:
    s = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    step = s.channel.fading.step_s
    return {"iotds": s.iotds.count, "mecs": s.mecs.count, "slots": s.slots,
            "step_ms": None if step is None else round(step * 1000, 9), "area": s.area_m[0]}


def test_the_shipped_scenario_table_covers_every_file_with_its_counts():
    doc = (ROOT / "docs" / "scenarios.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)\.yaml` \| (.*) \|$", doc, flags=re.M))
    files = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    assert sorted(rows) == files
    for name, text in rows.items():
        claims, facts = _claims(text), _facts(name)
        assert {"iotds", "mecs", "slots"} <= set(claims), (name, text)
        for key, value in claims.items():
            assert facts[key] == value, (name, key, value, facts[key])


def test_a_run_writes_what_the_readmes_table_lists(tmp_path, monkeypatch):
    from mecsim.cli import main
    from mecsim.engine.records import TABLES

    section = README.read_text().split("## What a run writes", 1)[1].split("\n## ", 1)[0]
    listed = {n.rstrip("/") for n in re.findall(r"^\| `([\w.]+/?)` \|", section, flags=re.M)}
    assert listed == {"scenario.yaml", "summary.json", *(f"{t}.parquet" for t in TABLES)}
    monkeypatch.chdir(tmp_path)
    assert main(["run", "tiny", "--slots", "2", "--quiet"]) == 0
    (folder,) = (tmp_path / "results").iterdir()
    written = {p.name for p in folder.iterdir() if not p.name.startswith(".")}
    assert written <= listed and "training.parquet" not in written  # no learner ran
    quick = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    pattern = re.search(r"`results/(dense_100)-seed(\d+)-TIME/`", quick)
    assert pattern and int(pattern[2]) == load_scenario(ROOT / "scenarios" /
                                                        "dense_100.yaml").seed
    results_doc = " ".join((ROOT / "docs" / "results.md").read_text().split())
    time_format = re.search(r"`results/NAME-seedS-TIME` \(TIME: [^)]*`(\w+)-(\w+)`\)",
                            results_doc)
    assert time_format, "docs/results.md: the default folder's TIME, as YYYYmmdd-HHMMSS"
    digits = rf"\d{{{len(time_format[1])}}}-\d{{{len(time_format[2])}}}"
    assert re.fullmatch(rf"tiny-seed0-{digits}", folder.name), folder.name
