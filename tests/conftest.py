from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def tiny():
    """Load scenarios/tiny.yaml with optional --set overrides."""
    from mecsim.config import load_scenario

    def load(*overrides: str):
        return load_scenario(SCENARIOS / "tiny.yaml", list(overrides))
    return load
