"""Word-level text helpers in one place: stop-word lists and the stemmer.

* :data:`STOPWORDS` — words that carry no topic (offline composer, answerability features,
  the Atlas helper);
* :data:`EVENT_STOPWORDS` — the few words dropped when a message is matched against workflow
  event names offline (:mod:`graphs.offline_policy`); far fewer than :data:`STOPWORDS`, because
  there "done", "over", "set" or "ok" name the step the client means;
* :func:`stem` — the Snowball English (Porter2) stemmer of the ``snowballstemmer`` package,
  so "bookings", "booked" and "booking" (or "consultations" and "consultation") meet; used to
  match messages against workflow event names;
* :func:`fold` — a light plural and ``-ing``/``-ed`` fold, for the offline composer's sentence
  picking. Porter2 was measured there (2026-12-04, ``grace eval run answers``): it conflates
  more ("consultant" with "consulting") and fact recall fell from 0.2371 to 0.2268 (one fact
  of 97 fewer: two cases changed, one for the better), below the suite's floor; the composer
  keeps the fold until its answers are reworked (issue 14 item 3).
"""

from __future__ import annotations

import threading
from functools import lru_cache

import snowballstemmer

#: Question words, auxiliaries, pronouns and common function words (lower case).
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing done down during each either else ever for
    from further get got had has have having he her here hers him his how i if in into is it its
    just know let like may me might more most much must my need no nor not now of off on once
    one only or other our ours out over own please same she should so some such tell than that
    the their theirs them then there these they this those through to too under until up upon
    us very want was we were what when where whether which while who whom whose why will with
    would yes yet you your yours""".split()  # noqa: SIM905
)

#: Dropped from both sides when matching a message against event names (offline tool planning):
#: articles, pronouns, politeness and "client" (which names who, not what step).
EVENT_STOPWORDS = frozenset(
    """the a an to for of and my me i is it please can you we our this that with on in now
    client""".split()  # noqa: SIM905
)

_ENGLISH = snowballstemmer.stemmer("english")
#: The Snowball stemmer object keeps per-call state: one caller at a time.
_STEM_LOCK = threading.Lock()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball English (Porter2) stem of one lower-case word.

    Cached (the same words recur across passages and turns); thread-safe.

    Args:
        word: One lower-case word (``"consultations"``).

    Returns:
        Its stem (``"consult"``); words the algorithm leaves alone come back as they are.
    """
    with _STEM_LOCK:
        return str(_ENGLISH.stemWord(word))


def fold(word: str) -> str:
    """Light suffix folding so "bookings", "booked" and "booking" (or "prices", "price") meet.

    Drops a possessive ``'s``, folds ``-sses``/``-ies``/plural ``-s``, then one ``-ing`` or
    ``-ed`` and a final ``-e`` on longer words. Gentler than :func:`stem` (see the module
    docstring for why the offline composer keeps it).

    Args:
        word: One lower-case word.
    """
    word = word.removesuffix("'s")
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word
