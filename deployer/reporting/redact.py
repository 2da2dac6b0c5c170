"""Keep secrets out of everything deployer prints or writes: the last step of every sink."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

MASK = "***"
#: Parts shorter than this are not masked on their own (a Coolify token's "12" before the `|`).
MIN_SECRET = 6


def secret_parts(secret: str) -> list[str]:
    """The token, and a Coolify token's secret after its `|`: each worth hiding on its own."""
    parts = [secret]
    if "|" in secret and len(secret.split("|", 1)[1]) >= MIN_SECRET:
        parts.append(secret.split("|", 1)[1])
    return parts


def mask_values(secret: str) -> list[str]:
    """What to hand GitHub's `::add-mask::`, one line each (a value with a line break inside would
    leave its other lines unmasked): the token and its secret part."""
    return list(
        dict.fromkeys(
            line.strip()
            for part in secret_parts(secret.strip())
            for line in part.splitlines()
            if len(line.strip()) >= 3
        )
    )


def secret_forms(secret: str) -> set[str]:
    """Every form in which `secret` could be written out: raw, its part after `|` (a Coolify
    token is `id|secret`), URL-encoded (either case of hex), JSON-, Markdown- or shell-escaped,
    and base64 at each of the three alignments (as the GitHub runner masks them)."""
    parts = secret_parts(secret)
    forms: set[str] = set()
    for part in parts:
        for form in (
            part,
            quote(part, safe=""),
            quote_plus(part),
            json.dumps(part)[1:-1],
            part.replace("\\", "\\\\").replace("|", "\\|"),
            part.replace("|", "\\|"),
        ):
            forms.update({form, _HEX.sub(lambda m: m.group(0).lower(), form)})
        forms.update(_base64_forms(part.encode()))
    return {f for f in forms if len(f) >= 3}


_HEX = re.compile("%[0-9A-F]{2}")


def _base64_forms(raw: bytes) -> set[str]:
    """The base64 text that `raw` yields wherever it stands in a larger string: at each of the three
    offsets, without the characters that also depend on the bytes before or after it."""
    forms = set()
    for shift, skip in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * shift + raw).decode().rstrip("=")[skip:]
        if (shift + len(raw)) % 3:
            encoded = encoded[:-1]
        if len(encoded) >= MIN_SECRET:
            forms.add(encoded)
    return forms


class Redactor:
    """Replaces every known secret, in any of its forms, with `***`."""

    def __init__(self, *secrets: str | None) -> None:
        self._forms: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        secret = (secret or "").strip()
        if len(secret) < 3:
            return
        for form in secret_forms(secret):
            if form not in self._forms:
                self._forms.append(form)
        # Longest first, so a secret's encoded form is not half-replaced by a shorter one.
        self._forms.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text
