"""Who is writing: the CLI's identity and the author names reserved for the engine.

A human write (``author_kind`` human: the CLI, the dashboard) carries the name
of a person, never one that reads as one of the engine's automated writers.
``engine_role_in(name)`` finds such a name under look-alike spellings
(full-width or styled letters, accents, Cyrillic or Greek letters, zero-width
characters, separators, a 0 for an o: ``Ｃａｌｉｂｒａｔｏｒ``, ``саlibrator``, ``g0vernor-v2``,
``c.a.l.i.b.r.a.t.o.r``); the store refuses a human write whose author has one.

The CLI writes as the operating-system account that runs it (the effective
uid's entry in the password database, not ``$USER``, which anyone can set);
``--author`` only adds a label beside it.
"""

from __future__ import annotations

import os
import pwd
import re
import unicodedata

from settings_service.schema import Problem, SettingsValidationError

# Author names that only the engine's automated writers (author_kind calibrator/governor) use.
RESERVED = ("calibrator", "governor", "engine")
AUTOMATED_KINDS = frozenset({"calibrator", "governor"})
# Letters that NFKC leaves alone but that read as Latin ones (Cyrillic, Greek, Armenian, IPA):
# capitals first (Greek Eta reads as H but folds to eta, which reads as n), then small letters.
_CAPITALS = str.maketrans("АВЕКМНОРСТХЅІЈΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEKMHOPCTXSIJABEZHIKMNOPTYX")
_SMALL = str.maketrans(
    "авгеёіїјкмнопрстухѕԁԛԝьһӏɡɩɪʀαβγεηικνορτυχωϲϳոսհօ",
    "abreeiijkmhonpctyxsdqwbhlgiirabyenikvoptuxwcjnuho",
)
_DIGITS = str.maketrans("0", "o")
_TRAILING_VERSION = re.compile(r"(v?\d+)+$")


def skeleton(text: str) -> str:
    """``text`` as it reads: compatibility forms folded (NFKC), accents and zero-width
    characters dropped, case-folded, look-alike letters mapped to Latin ones."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Me", "Cf"))
    folded = unicodedata.normalize("NFKC", kept).translate(_CAPITALS).casefold()
    return folded.translate(_SMALL)


def engine_role_in(name: str) -> str | None:
    """The reserved name that ``name`` reads as or contains as a word, else None.

    Words are runs of letters and digits; a trailing version (``-v2``, ``1``) is ignored, and
    so are separators inside the whole name (``c.a.l.i.b.r.a.t.o.r``). ``engineer`` is a word
    of its own and is not reserved.
    """
    words = re.findall(r"[^\W_]+", skeleton(name))
    for word in [*words, "".join(words)]:
        bare = _TRAILING_VERSION.sub("", word)
        for candidate in (word, bare, word.translate(_DIGITS), bare.translate(_DIGITS)):
            if candidate in RESERVED:
                return candidate
    return None


def author_problem(author: str, author_kind: str) -> Problem | None:
    """Why ``author`` may not write as ``author_kind``, or None: a human write never carries a
    name reserved for the engine's automated writers."""
    if author_kind in AUTOMATED_KINDS:
        return None
    role = engine_role_in(author or "")
    if role is None:
        return None
    return Problem(
        "author",
        author,
        f"reads as {role!r}, a name reserved for the engine's automated writers "
        f"(author_kind {' or '.join(sorted(AUTOMATED_KINDS))}); a {author_kind} writes under "
        "their own name",
    )


def os_user() -> str:
    """The account this process runs as (effective uid), from the password database; ``uid N``
    when the uid has no entry (a container started with ``--user N``)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def label_problem(label: str) -> Problem | None:
    """Why ``label`` (the CLI's ``--author``) cannot be recorded beside the OS account, or
    None."""
    if not label.strip():
        return Problem("--author", label, "must be a non-empty label")
    if any(unicodedata.category(c).startswith("C") for c in label) or set("()") & set(label):
        return Problem(
            "--author", label, "must be plain text (no control characters or parentheses)"
        )
    role = engine_role_in(label)
    if role is not None:
        return Problem(
            "--author",
            label,
            f"reads as {role!r}, a name reserved for the engine's automated writers; "
            "the CLI always writes as a human, under the account that runs it",
        )
    return None


def cli_author(label: str | None, user: str | None = None) -> str:
    """The author of a CLI write: the OS account, and ``--author``'s label beside it
    (``root (via --author: alice)``). Raises :class:`SettingsValidationError` for a label that
    :func:`label_problem` refuses."""
    who = user if user is not None else os_user()
    if label is None:
        return who
    problem = label_problem(label)
    if problem is not None:
        raise SettingsValidationError([problem])
    return f"{who} (via --author: {label.strip()})"
