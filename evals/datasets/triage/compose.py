"""Compose part of the triage train split (pass ``train-b``) from hand-written pieces.

Every piece below was written by hand for this corpus; this script only combines them:

- ``CLAUSES``: one request clause per persona, joined two or three at a time into one
  multi-intent message (level 2, persona ``grace``, the clause personas as alternates);
- ``OFFERS`` and the reply lists: an assistant turn followed by a confirmation, refusal,
  follow-up or closing, which stays with the persona that made the offer (level 1), except
  that a yes to a hand-over offer is a level-4 ``human_request`` for ``grace``;
- ``OPENERS``/``CLOSERS``: small talk and context wrapped around one single-intent message
  from the hand-written pass, which keeps its labels (one request plus filler is one intent);
- ``typo``: deterministic keyboard noise (drop, double, swap, neighbour key, lower case).

The output is deterministic (fixed seed) so train.jsonl rebuilds byte for byte.
"""

from __future__ import annotations

import random
from typing import Any

SEED = 13

CLAUSES: dict[str, list[str]] = {
    "nyra": [
        "log the new inquiry from the dance school",
        "qualify the leads from Saturday's fair",
        "send the intake questionnaire to the Finch & Co contact",
        "follow up with the hotel group that asked about staff wellbeing",
        "add Marta Silva from the referral form to the pipeline",
        "set up a discovery call for the architecture firm",
        "score the webinar sign-ups",
        "chase the enquiry from the charity that never replied",
    ],
    "solari": [
        "book the large studio for Friday night",
        "move Mrs Adams's massage to Monday",
        "reserve two places on the silent retreat",
        "send the payment link for the Moreau print",
        "cancel tomorrow's 9am reflexology",
        "open three more slots for the sound bath",
        "mark the Patel order as paid",
        "put a private viewing in the diary for Thursday",
    ],
    "ruvo": [
        "create a task for Jo to restock the oils",
        "assign the install checklist to the weekend crew",
        "ship the watercolour to the buyer in York",
        "push the catalogue deadline to Thursday",
        "make a task to fix the studio heater",
        "close out the Linden project",
        "give Priya the reception handover tasks",
        "add a milestone for the report draft",
    ],
    "liora": [
        "plan a campaign for the spring open day",
        "pause the ads for the sold-out workshop",
        "set up a win-back offer for lapsed members",
        "shift the ad budget towards the retreat",
        "launch the referral promo next week",
        "plan the Mother's Day voucher push",
        "run a promotion for the quiet Tuesday classes",
        "draft the press plan for the retrospective",
    ],
    "sage": [
        "welcome the new members in the forum",
        "send a check-in to last month's retreat guests",
        "collect feedback from the breathwork group",
        "invite the alumni to the winter evening",
        "reply to the timetable thread in the community",
        "thank the open day volunteers",
        "organise a members' meetup for next month",
        "post the walk reminder in the members' group",
    ],
    "elan": [
        "update the Moreau listing copy",
        "write a blog post on winter sleep",
        "design a poster for the open studio",
        "rewrite the massage services page",
        "draft the newsletter subject lines",
        "fix the artist bio on the exhibition page",
        "make three social posts about the new hours",
        "write the wall labels for the landscape show",
    ],
    "zevi": [
        "pull the attendance trend for evening classes",
        "segment the list by print buyers",
        "tell me how many clients rebooked within a month",
        "compare open rates for the two newsletters",
        "size the lapsed member segment",
        "break down retreat revenue by source",
        "find which posts drove the most sign-ups",
        "work out the conversion rate from discovery calls",
    ],
    "atlas": [
        "find me the sauna opening SOP",
        "check what the handbook says about overtime",
        "send me the refund procedure document",
        "look up our policy on photographing clients",
        "pull the artist consignment terms",
        "find the health and safety checklist for the treatment rooms",
        "check the retreat terms on travel insurance",
        "get the onboarding guide for new therapists",
    ],
}

CONNECTORS2 = [
    "{a} and {b}",
    "{A}, and also {b}.",
    "{A}. Also, {b}.",
    "{A}; then {b}.",
    "Can you {a} and {b}?",
    "Please {a}, plus {b}.",
    "{A} - oh and {b}",
    "Two things: {a}, and {b}.",
    "Could you {a}? And {b} too.",
    "{A}. Separately, {b}.",
]
CONNECTORS3 = [
    "{A}, {b} and {c}.",
    "Please {a}, {b}, and {c}.",
    "Three things today: {a}; {b}; {c}.",
    "{A}. Then {b}. And {c}.",
    "can you {a}, {b} and also {c}",
]

# (persona, assistant offer) pairs; each offer accepts any reply from the generic lists.
OFFERS: list[tuple[str, str]] = [
    ("nyra", "I can send you our programme overview and a short intake form. Would that help?"),
    ("nyra", "Shall I set up a free 20 minute introductory call with one of our consultants?"),
    ("solari", "I have a slot on Saturday at 11 with Leon. Shall I book it for you?"),
    ("solari", "I can move your session to next Tuesday at 6pm. Shall I go ahead?"),
    ("solari", "The print is available. Would you like me to reserve it for 48 hours?"),
    ("ruvo", "I've drafted five open day tasks with owners and dates. Shall I create them?"),
    ("ruvo", "The courier can collect tomorrow between 9 and 12. Shall I book the pickup?"),
    (
        "liora",
        "Here's the campaign outline: email on Monday, two posts, a reminder on Friday. "
        "Shall I schedule it?",
    ),
    ("liora", "I suggest a 15% early-bird offer for the retreat. Want me to set it up?"),
    ("sage", "I've written a welcome message for the new members. Shall I post it?"),
    ("sage", "Would you like me to send a check-in note to the retreat group?"),
    ("elan", "Here's a draft of the artist page. Shall I publish it?"),
    ("elan", "I've laid out the poster in A3 with the earthy palette. Shall I send it to print?"),
    ("zevi", "The lapsed segment has 640 members. Shall I export it for the campaign?"),
    ("zevi", "Attendance dropped 12% after the timetable change. Want the breakdown by class?"),
    ("atlas", "I found the refund procedure in the finance handbook. Want the full section?"),
    ("atlas", "The retreat terms cover travel insurance in section 7. Shall I summarise it?"),
]
HANDOVER_OFFERS: list[tuple[str, str]] = [
    (
        "solari",
        "I can't change that myself. Would you like me to hand this over to a member of our team?",
    ),
    ("atlas", "I don't have that in our documents. Shall I pass your question to one of our team?"),
    ("sage", "Would you like someone from our team to get in touch with you personally?"),
    ("liora", "This needs a person to approve. Shall I hand it to a member of staff?"),
    ("grace", "Would you like me to connect you with a member of our team?"),
]
CONFIRMS = [
    "yes please",
    "Yes, go ahead.",
    "sure",
    "yep do it",
    "Sounds good, yes.",
    "ok",
    "Please do.",
    "that works",
    "Yes that's fine",
    "go for it",
    "absolutely, thanks",
    "yes, perfect",
    "OK let's do that",
    "Confirmed.",
    "yeah why not",
]
REFUSALS = [
    "no thanks",
    "No, not right now.",
    "Please don't.",
    "hold off for now",
    "nah",
    "No, leave it as it is.",
    "I'd rather not, thanks.",
    "not yet",
    "Cancel that, no.",
    "No, I've changed my mind.",
    "don't do that please",
    "No - wait until Monday.",
]
CLOSINGS = [
    "Thanks, that's all for now.",
    "great, thank you!",
    "Cheers, bye.",
    "Perfect, thanks a lot.",
    "that's everything, have a good day",
    "Thank you so much, really helpful.",
    "ok thanks, speak soon",
    "Lovely, thank you!",
    "All sorted, thanks.",
    "ta, that's it",
]
HANDOVER_YES = [
    "Yes please, a person.",
    "yes I'd like to talk to someone",
    "Yes, please have someone call me.",
    "Please, a human would be better.",
    "yes pass it on to a person",
    "Yes, a real person please.",
]
FOLLOW_UPS: dict[str, list[str]] = {
    "nyra": [
        "We're about 40 people across two offices.",
        "Could you include pricing too?",
        "Mornings are better for me, I'm in meetings after lunch.",
        "and what happens after the call?",
    ],
    "solari": [
        "Could it be an hour later?",
        "Can you make it with a female therapist?",
        "Actually make that two people.",
        "what about the week after instead",
    ],
    "ruvo": [
        "Make the first one due Friday.",
        "Add Sam as a second owner.",
        "and flag it as urgent",
        "Put the insurance task at the top.",
    ],
    "liora": [
        "Make the offer shorter, just the headline.",
        "Add one more post midweek.",
        "Can we test two versions of the subject line?",
        "Keep the budget under 800.",
    ],
    "sage": [
        "Add a line about the book club.",
        "Can you make it warmer?",
        "Mention the date of the next meetup too.",
        "sign it from the whole team",
    ],
    "elan": [
        "Make it shorter and punchier.",
        "Swap the photo for the landscape one.",
        "Bigger title, less text.",
        "can you do a version in dark green",
    ],
    "zevi": [
        "Split it by age group too.",
        "And compared with last year?",
        "Only count people who booked twice.",
        "Can I see that as a chart?",
    ],
    "atlas": [
        "What about for group bookings?",
        "Does that apply to gift vouchers as well?",
        "Is that the latest version of the document?",
        "and who do I ask if it doesn't cover my case?",
    ],
}

OPENERS = [
    "Hi, hope you're having a good week! ",
    "Morning all. ",
    "Sorry to bother you again. ",
    "Quick one before my meeting: ",
    "So, it's been a hectic month. Anyway, ",
    "Hello from a very rainy Manchester. ",
    "Hiya, long time no see! ",
    "Right, ",
    "Hey, my friend recommended I message here. ",
    "Good afternoon. ",
    "I hope this is the right place. ",
    "ok so ",
]
CLOSERS = [
    " Thanks in advance!",
    " No rush, whenever you get a chance.",
    " The weather's been awful here, by the way.",
    " Cheers.",
    " Hope that makes sense.",
    " Sorry for the long message.",
    " Have a lovely day.",
    " I'm off on holiday next week, hence the timing.",
    " Thanks so much, you're all wonderful.",
    " My dog says hi.",
]

_NEIGHBOURS = {"a": "s", "e": "r", "i": "o", "o": "p", "n": "m", "t": "y", "s": "d", "r": "t"}


def typo(text: str, rng: random.Random) -> str:
    """Add one to three keyboard slips to ``text`` and sometimes lower-case it.

    Args:
        text: A message.
        rng: The random source (seeded by the caller).

    Returns:
        The noisy message; it is never equal to ``text``.
    """
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        positions = [i for i, c in enumerate(chars) if c.isalpha()]
        if len(positions) < 4:
            break
        i = rng.choice(positions[1:-1])
        op = rng.randrange(4)
        if op == 0:
            del chars[i]
        elif op == 1:
            chars.insert(i, chars[i])
        elif op == 2 and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            chars[i] = _NEIGHBOURS.get(chars[i].lower(), chars[i])
    out = "".join(chars)
    if rng.random() < 0.4:
        out = out.lower().rstrip(".")
    return out if out != text else out + "?"


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _item(
    text: str, persona: str, alts: list[str], level: int, risk: str, act: str, **extra: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "",
        "text": text,
        "persona": persona,
        "alternates": alts,
        "level": level,
        "risk": risk,
        "act": act,
        "intents": extra.pop("intents", 1),
        "voice": extra.pop("voice", "staff"),
        "pass": "train-b",
    }
    item.update(extra)
    return item


def _multi(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    names = sorted(CLAUSES)
    for _ in range(90):
        pa, pb = rng.sample(names, 2)
        a, b = rng.choice(CLAUSES[pa]), rng.choice(CLAUSES[pb])
        text = rng.choice(CONNECTORS2).format(a=a, b=b, A=_cap(a))
        out.append(_item(text, "grace", [pa, pb], 2, "none", "request", intents=2))
    for _ in range(25):
        pa, pb, pc = rng.sample(names, 3)
        a, b, c = (rng.choice(CLAUSES[p]) for p in (pa, pb, pc))
        text = rng.choice(CONNECTORS3).format(a=a, b=b, c=c, A=_cap(a))
        out.append(_item(text, "grace", [pa, pb, pc], 2, "none", "request", intents=3))
    return out


def _turns(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for persona, offer in OFFERS:
        ctx = [{"role": "assistant", "agent": persona, "text": offer}]
        voice = "client" if persona in {"nyra", "solari", "atlas"} else "staff"
        for act, pool, k in (
            ("confirmation", CONFIRMS, 4),
            ("refusal", REFUSALS, 4),
            ("closing", CLOSINGS, 3),
            ("follow_up", FOLLOW_UPS[persona], 3),
        ):
            for reply in rng.sample(pool, k):
                alts = ["grace"] if act == "closing" else []
                out.append(_item(reply, persona, alts, 1, "none", act, voice=voice, context=ctx))
    for persona, offer in HANDOVER_OFFERS:
        ctx = [{"role": "assistant", "agent": persona, "text": offer}]
        for reply in rng.sample(HANDOVER_YES, 4):
            alts = [] if persona == "grace" else [persona]
            out.append(
                _item(
                    reply,
                    "grace",
                    alts,
                    4,
                    "human_request",
                    "confirmation",
                    voice="client",
                    context=ctx,
                )
            )
        for reply in rng.sample(REFUSALS, 2):
            out.append(_item(reply, persona, [], 1, "none", "refusal", voice="client", context=ctx))
    return out


def _wrapped(base: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for b in base:
        if b["intents"] != 1 or "context" in b or b["act"] not in {"request", "question"}:
            continue
        key = "incident" if b["level"] == 3 else b["persona"]
        if key not in {"grace", "solari"}:
            groups.setdefault(key, []).append(b)
    out = []
    for key in sorted(groups):
        pool = groups[key]
        wraps, noisy = (16, 6) if key == "incident" else (26, 10)
        for item in rng.sample(pool, wraps):
            text = item["text"]
            choice = rng.randrange(3)
            if choice == 0:
                text = rng.choice(OPENERS) + text
            elif choice == 1:
                text = text + rng.choice(CLOSERS)
            else:
                text = rng.choice(OPENERS) + text + rng.choice(CLOSERS)
            if rng.random() < 0.3:
                text = typo(text, rng)
            out.append({**item, "text": text, "pass": "train-b"})
        for item in rng.sample(pool, noisy):
            out.append({**item, "text": typo(item["text"], rng), "pass": "train-b"})
    return out


def compose(base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Compose the ``train-b`` items.

    Args:
        base: The hand-written train items (pass ``train-a``); wrapped and noisy copies of
            some of them are made.

    Returns:
        New items, none of whose texts repeats a text of ``base`` or of each other.
    """
    rng = random.Random(SEED)
    seen = {b["text"].lower() for b in base}
    out = []
    for item in _multi(rng) + _turns(rng) + _wrapped(base, rng):
        key = item["text"].lower()
        if "context" in item:
            key = item["context"][0]["text"].lower() + "|" + key
        if key in seen:
            continue
        seen.add(key)
        out.append(item)
    return out
