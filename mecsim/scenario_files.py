"""Built-in scenarios by name: ``mecsim run tiny`` is ``scenarios/tiny.yaml``, from anywhere.

The scenarios live in the top-level ``scenarios/`` folder of the checkout; a wheel ships the
same files as package data in ``mecsim/scenarios/`` (``setup.cfg`` maps that package to the
folder). :func:`builtin_dir` finds whichever is there, and :func:`resolve_scenario` turns
what a user typed into a file:

- a path to an existing file is that file (a path always wins over a built-in name);
- a bare name (``tiny``, or ``tiny.yaml``, without a folder) is the built-in scenario;
- anything else raises :class:`mecsim.config.ScenarioError` naming the built-in scenarios.
"""

from __future__ import annotations

from pathlib import Path

#: The suffixes a built-in scenario's name may carry (``tiny.yaml`` is ``tiny``).
SUFFIXES = (".yaml", ".yml")
_PACKAGE = Path(__file__).resolve().parent


def builtin_dir() -> Path | None:
    """Return the folder of the built-in scenarios, or None when there is none.

    An installed wheel's ``mecsim/scenarios/`` first, else the ``scenarios/`` folder beside
    ``mecsim/`` in a checkout (a source tree: it holds ``setup.cfg``), so that another
    distribution's ``scenarios`` folder in ``site-packages`` is never taken for mecsim's.
    """
    shipped = _PACKAGE / "scenarios"
    if any(shipped.glob("*.yaml")):
        return shipped
    checkout = _PACKAGE.parent
    if (checkout / "setup.cfg").is_file() and (checkout / "scenarios").is_dir():
        return checkout / "scenarios"
    return None


def builtin_scenarios() -> dict[str, Path]:
    """Return the built-in scenarios, name (the file's stem) -> file, sorted by name."""
    folder = builtin_dir()
    if folder is None:
        return {}
    files = [p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file()]
    return {p.stem: p for p in sorted(files, key=lambda p: p.stem)}


def describe(path: Path) -> str:
    """Return a scenario file's first comment line (its one-line description), or ``""``."""
    try:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                text = line.strip()
                if text.startswith("#"):
                    return text.lstrip("#").strip()
                if text:
                    return ""
    except (OSError, UnicodeDecodeError):
        pass
    return ""


def builtin_name(text: str) -> str | None:
    """Return the built-in name ``text`` would be (``tiny`` for ``tiny.yaml``), or None.

    A name has no folder part; its suffix, if any, is one of :data:`SUFFIXES`.
    """
    path = Path(text)
    if not text or path.name != text or text in (".", ".."):
        return None
    if path.suffix in SUFFIXES:
        return path.stem
    return text


def resolve_scenario(text: str | Path) -> Path:
    """Return the scenario file that ``text`` (a path or a built-in name) names.

    Args:
        text: A path to a scenario file, or a built-in scenario's name (``tiny``,
            ``dense_100``; ``tiny.yaml`` too).

    Returns:
        ``text`` as a path when that file exists; else the built-in scenario of that name;
        else ``text`` as a path when something else is there (a folder: reading it gives
        the error).

    Raises:
        mecsim.config.ScenarioError: Nothing is at ``text`` and no built-in scenario has
            that name; the message lists the built-in names.
    """
    from mecsim.config import ScenarioError

    path = Path(text)
    if path.is_file():
        return path
    builtins = builtin_scenarios()
    name = builtin_name(str(text))
    if name in builtins:
        return builtins[name]
    if path.exists():
        return path
    names = ", ".join(builtins) or "none found"
    where = ("no such file, and no built-in scenario of that name" if name is not None
             else "no such file")
    raise ScenarioError(str(text), f"{where} (built-in scenarios, run by name as "
                                   f"'mecsim run NAME': {names})")
