"""Server text is data, never a command: the one neutraliser every sink passes it through.

Text the server controls (build logs, names, messages, error bodies) reaches a CI job log, whose
runner obeys what stands at the start of a line (`::error::`, `::add-mask::`, `::stop-commands::`;
GitHub trims leading white space before it looks), a GitLab log (`section_start:` markers), a
terminal (ANSI escapes), and readers (bidi controls that reorder what is shown). So:
- line breaks of every kind become spaces: one piece of server text is one line;
- ANSI escape sequences, C0 and C1 control characters and bidi controls go;
- a leading `::` is broken up, and GitLab's section markers lose their meaning.
"""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
# C0 but tab and the line breaks (handled apart), DEL, C1, and the bidi and zero-width controls.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_BREAKS = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_LEADING_COMMAND = re.compile(r"^(\s*):(?=:)")
_SECTION = re.compile(r"section_(start|end):", re.IGNORECASE)


def one_line(text: object) -> str:
    """Server text as one harmless line."""
    return _defuse(_BREAKS.sub(" ", _strip(str(text))))


def lines(text: object) -> list[str]:
    """Server text (a build log) as harmless lines."""
    return [_defuse(line) for line in _BREAKS.split(_strip(str(text)))]


def _strip(text: str) -> str:
    return _CONTROL.sub("", _ANSI.sub("", text))


def _defuse(line: str) -> str:
    return _SECTION.sub(r"section_\1 :", _LEADING_COMMAND.sub(r"\1: ", line))
