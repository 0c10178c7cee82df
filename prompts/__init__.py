"""Prompts are files here, installed as the package data of `qa.prompts`: `## system` / `## user` (or `## text`)
sections with {named} variables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from index.errors import ConfigError

VARIABLE = re.compile(r"\{([a-z_]+)\}")
SECTION = re.compile(r"^## (system|user|text)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    """A prompt template read from a file, with the variables it needs."""

    name: str
    sections: dict[str, str]

    @property
    def variables(self) -> frozenset[str]:
        """Return the names of the variables the prompt uses."""
        return frozenset(v for text in self.sections.values() for v in VARIABLE.findall(text))

    def render(self, **values: str) -> dict[str, str]:
        """Return each section with its variables filled; a missing variable is an error naming it."""
        missing = sorted(self.variables - set(values))
        if missing:
            needed = ", ".join(sorted(self.variables))
            raise ConfigError(f"提示词 {self.name} 缺少变量：{', '.join(missing)}（需要：{needed}）")
        # Substitute in one pass so text inside a value (a clause with "{x}") is never treated as a variable.
        return {k: VARIABLE.sub(lambda m: values[m.group(1)], v) for k, v in self.sections.items()}

    def messages(self, **values: str) -> list[tuple[str, str]]:
        """Return (role, content) chat messages."""
        rendered = self.render(**values)
        return [(role, rendered[role]) for role in ("system", "user") if role in rendered]


@cache
def load_prompt(name: str) -> Prompt:
    """Return the prompt `<name>.md` of this package."""
    folder = files(__name__)
    path = folder / f"{name}.md"
    if not path.is_file():
        available = ", ".join(sorted(p.name.removesuffix(".md") for p in folder.iterdir() if p.name.endswith(".md")))
        raise ConfigError(f"找不到提示词文件 {name}.md；可用：{available}")
    text = path.read_text(encoding="utf-8")
    parts = SECTION.split(text)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if not sections:
        raise ConfigError(f"提示词文件 {name}.md 没有 “## system”/“## user”/“## text” 小节")
    return Prompt(name, sections)
