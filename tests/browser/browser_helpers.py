"""What the browser tests share beyond fixtures: where their screenshots go."""

from pathlib import Path

SHOTS = Path(__file__).parent / "screenshots"


def shoot(page, name: str, *, full_page: bool = True) -> Path:
    """A screenshot in tests/browser/screenshots/ (look at them; the README shows one)."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
