"""The high-precision phrase layer on top of the learned triage.

Rules here only fire on wording that is unambiguous on its own; everything else is the
classifiers' job (the old curated trigger lists generalised badly: see issue 13). Each rule
was kept because it never fired wrongly on the train and dev splits.

* :func:`risk_rule`: a risk category from an explicit phrase (a request for a person, words
  of self-harm, a chargeback, legal action): level 4 whatever the classifier says.
* :func:`reply_act`: short replies whose act is certain: "yes please" (confirmation),
  "no thanks" (refusal), "thanks, that's all" (closing).
* :func:`is_greeting`: a message that only greets ("hello", "hi there", "good morning"):
  Grace greets back and says what the team does; no persona is routed.
"""

from __future__ import annotations

import re

_RISK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (risk, re.compile(pattern, re.IGNORECASE))
    for risk, pattern in (
        (
            "self_harm",
            r"\b(kill|hurt|harm|cut)(ing)?\s+myself\b|\bsuicid\w*|\bend(ing)?\s+(my\s+life|it\s+all)\b|"
            r"\bself[- ]harm\w*|"
            r"\b(don'?t|do\s+not)\s+want\s+to\s+(live|be\s+alive|be\s+here\s+anymore)\b",
        ),
        (
            "human_request",
            r"\b(talk|speak|chat)\s+(to|with)\s+(a\s+)?(real\s+|actual\s+)?(person|human|"
            r"somebody\s+real|someone\s+real)\b|"
            # "a real person" only when asked for: "Am I chatting to a real person?" is a
            # question about the service (Grace, level 1), not a request for one.
            r"\b(want|need|get\s+me|give\s+me|like|prefer)\s+(an?\s+)?(real|actual)\s+"
            r"(person|human)\b|\b(real|actual)\s+(person|human)[\s,]+please\b|"
            r"\bnot\s+(a|another)\s+bot\b|\bput\s+me\s+through\s+to\b|"
            r"\bhand\s+(this|me|it)\s+over\s+to\s+(a\s+)?(person|human|member\s+of)",
        ),
        ("payment_dispute", r"\bchargeback\b|\b(charged|billed)\s+(me\s+)?twice\b"),
        (
            "legal",
            r"\b(my|our)\s+(lawyer|solicitor|attorney)\b|\blegal\s+action\b|\blawsuit\b|"
            r"\b(sue|suing)\s+(you|your)\b",
        ),
    )
)

_YES = re.compile(
    r"^\s*(yes|yeah|yep|yup|sure|ok(ay)?|please\s+do|go\s+ahead|do\s+it|sounds\s+good|"
    r"that'?d\s+be\s+(great|lovely|perfect)|absolutely|definitely|confirm(ed)?)\b"
    r"[\s,.!]*(please|thanks|thank\s+you|go\s+ahead|do\s+(it|that)|that'?s\s+(fine|great))?"
    r"[\s,.!]*$",
    re.IGNORECASE,
)
_NO = re.compile(
    r"^\s*(no|nope|nah|not\s+now|not\s+yet|don'?t|do\s+not|please\s+don'?t|no\s+need|"
    r"leave\s+it)\b[\s,.!]*(thanks|thank\s+you|that'?s\s+(ok|okay|fine|all)|not\s+now|"
    r"don'?t)?[\s,.!]*$",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\s*((ok(ay)?|great|perfect|lovely|brilliant|cool)[\s,.!]*)?"
    r"(thanks|thank\s+you|thx|cheers|ta)(\s+so\s+much|\s+a\s+lot|\s+very\s+much)?[\s,.!]*"
    r"((that'?s|that\s+is|it'?s)\s+(all|everything|it)(\s+for\s+now)?|bye|goodbye|"
    r"have\s+a\s+(good|great|nice)\s+(day|evening|one))?[\s,.!]*$"
    r"|^\s*(that'?s|that\s+is)\s+(all|everything|it)(\s+for\s+(now|today))?[\s,.!]*"
    r"(thanks|thank\s+you|bye)?[\s,.!]*$|^\s*(bye|goodbye)[\s,.!]*$",
    re.IGNORECASE,
)


_LEADING_YES = re.compile(
    r"^\s*(yes|yeah|yep|yup|sure|ok(ay)?|please\s+do|go\s+ahead|absolutely|definitely)\b"
    r"(?!\s+(but|although|though)\b)",
    re.IGNORECASE,
)
_LEADING_NO = re.compile(
    r"^\s*(no|nope|nah|not\s+now|please\s+don'?t)\b(?!\s+problem)", re.IGNORECASE
)


_NOTHING_MORE = re.compile(
    r"^\s*(no|nope|nah)\b[\s,.!]*((that'?s|that\s+is|it'?s)\s+(all|it|everything)\b|"
    r"nothing\s+(else|more)\b)",
    re.IGNORECASE,
)


def answer_to_offer(message: str) -> str | None:
    """``confirmation``/``refusal``/``closing`` for a reply that starts with yes or no, else None.

    Only meaningful right after an offer ("Yes, please hand this over to a person."); the
    caller applies it only while the thread has a live pending offer. A no that ends the
    conversation ("No, that's all, have a good day.") is a ``closing``: the offer lapses
    and Grace closes politely.
    """
    if _NOTHING_MORE.match(message):
        return "closing"
    if _LEADING_YES.match(message):
        return "confirmation"
    if _LEADING_NO.match(message):
        return "refusal"
    return None


def risk_rule(message: str) -> tuple[str, str] | None:
    """``(risk, evidence)`` when an unambiguous phrase names a risk, else None."""
    for risk, pattern in _RISK_PATTERNS:
        found = pattern.search(message)
        if found:
            return risk, found.group(0)
    return None


def reply_act(message: str) -> str | None:
    """``confirmation``, ``refusal`` or ``closing`` for a short, unambiguous reply, else None."""
    if _YES.match(message):
        return "confirmation"
    if _NO.match(message):
        return "refusal"
    if _CLOSING.match(message):
        return "closing"
    return None


_GREETING = re.compile(
    r"^\s*(oh\s+)?(h+i+|hello+|helo|hey+(\s+hey)?|hiya|heya|howdy|greetings|yo|"
    r"good\s+(morning|afternoon|evening|day)|morning|afternoon|evening)\b"
    r"([\s,]+(there|all|everyone|everybody|team|folks|grace|again|you))*[\s,.!?:)]*"
    r"((how\s+are\s+(you|things)|how'?s\s+it\s+going|nice\s+to\s+meet\s+you|"
    r"hope\s+you'?re\s+(well|ok|okay|good)|happy\s+\w+day)(\s+today)?[\s,.!?:)]*)?$",
    re.IGNORECASE,
)


def is_greeting(message: str) -> bool:
    """True when ``message`` only greets ("hello", "hi there!", "Good morning, how are you?").

    A greeting followed by anything else ("hi, can I book a massage?") is not one: the
    request decides the turn.
    """
    return bool(_GREETING.match(message))
