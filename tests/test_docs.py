"""The README documents every setting and every command (a new one fails the build until it is)."""

from __future__ import annotations

from pathlib import Path

from kg.settings import Settings
from web.cli import parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_with_its_default():
    for variable, default, _help in Settings.documentation():
        shown = f"`{default}`" if default != "" else "(empty)"
        assert f"| `{variable}` | {shown} |" in README, f"{variable} is not in the README's settings table"


def test_every_command_is_documented():
    commands = parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"`mouseion {name}" in README, f"mouseion {name} is not in the README"


def test_readme_starts_with_the_two_commands():
    block = README.split("```sh", 1)[1].split("```", 1)[0].strip().splitlines()
    assert "mouseion serve --sample" in block[0] and "pytest" in block[1]
