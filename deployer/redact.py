"""Keep secrets out of everything deployer prints or writes."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

MASK = "***"


class Redactor:
    """Replaces every known secret, raw or URL-encoded, with `***`."""

    def __init__(self, *secrets: str | None) -> None:
        self._forms: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < 3:
            return
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            if form not in self._forms:
                self._forms.append(form)
        # Longest first, so a secret's encoded form is not half-replaced by a shorter one.
        self._forms.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text
