"""Words that carry no topic, shared by the offline composer and the answerability features."""

from __future__ import annotations

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
