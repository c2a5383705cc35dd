"""Build train.jsonl and dev.jsonl of the triage corpus from the hand-written sources.

The sources in ``src/`` are written in a compact line format (see README.md, "Source format"):
a header line ``# key=val ...`` sets the labels of the lines under it, an item line may
override them in a ``{key=val ...}`` prefix, and ``> agent: text`` lines give the assistant
turns that precede the next item. ``compose.py`` adds the composed part of train (pass
``train-b``); the sources ``src/pass3-*.txt`` (pass ``train-c``, written after train-a/b in
the styles they lacked) are appended after it. The test split is not built here: it was
written by hand in its own pass and is frozen (see ``test.sha256``).

Usage:
    python evals/datasets/triage/build.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from graphs.workflows.model import GRACE
from graphs.workflows.model import PERSONAS as PERSONA_IDS

HERE = Path(__file__).resolve().parent

PERSONAS = (GRACE, *PERSONA_IDS)
RISKS = {
    "none": "none",
    "sh": "self_harm",
    "med": "medical",
    "saf": "safety",
    "leg": "legal",
    "priv": "privacy",
    "pay": "payment_dispute",
    "vip": "vip",
    "appr": "approval_bypass",
    "hum": "human_request",
}
ACTS = {
    "req": "request",
    "q": "question",
    "conf": "confirmation",
    "ref": "refusal",
    "fu": "follow_up",
    "close": "closing",
}
VOICES = {"c": "client", "s": "staff"}

_PAIR = re.compile(r"(\w+)=(\S+)")


class SourceError(ValueError):
    """A source line does not follow the format or uses an unknown label."""


def _apply(labels: dict[str, str], spec: str, *, where: str) -> None:
    for key, value in _PAIR.findall(spec):
        if key not in {"p", "alt", "l", "r", "a", "v", "i", "pass"}:
            raise SourceError(f"{where}: unknown key {key!r}")
        if key == "p":
            labels["alt"] = "-"
        labels[key] = value


def _item(
    labels: dict[str, str], text: str, context: list[dict[str, str]], *, where: str
) -> dict[str, Any]:
    persona = labels["p"]
    alts = [] if labels.get("alt", "-") == "-" else labels["alt"].split(",")
    level = int(labels["l"])
    if persona not in PERSONAS or any(a not in PERSONAS or a == persona for a in alts):
        raise SourceError(f"{where}: bad persona {persona!r} / alternates {alts!r}")
    if level not in (1, 2, 3, 4):
        raise SourceError(f"{where}: bad level {level}")
    try:
        risk, act, voice = RISKS[labels["r"]], ACTS[labels["a"]], VOICES[labels["v"]]
    except KeyError as exc:
        raise SourceError(f"{where}: unknown label {exc}") from exc
    default_intents = max(2, len(alts)) if level == 2 else 1
    intents = int(labels.get("i", default_intents))
    item: dict[str, Any] = {
        "id": "",
        "text": text,
        "persona": persona,
        "alternates": alts,
        "level": level,
        "risk": risk,
        "act": act,
        "intents": intents,
        "voice": voice,
        "pass": labels["pass"],
    }
    if context:
        item["context"] = context
    return item


def parse(path: Path) -> list[dict[str, Any]]:
    """Parse one source file into corpus items (ids are left empty).

    Args:
        path: A file in the source format described in README.md.

    Returns:
        The items in file order.

    Raises:
        SourceError: A line is malformed or uses a label outside the vocabularies.
    """
    defaults: dict[str, str] = {"alt": "-", "l": "1", "r": "none", "a": "req", "v": "c"}
    items: list[dict[str, Any]] = []
    context: list[dict[str, str]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path.name}:{number}"
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        if line.startswith("# "):
            _apply(defaults, line[2:], where=where)
            continue
        if line.startswith(">"):
            agent, _, text = line[1:].partition(":")
            role = "user" if agent.strip() == "user" else "assistant"
            turn = {"role": role, "text": text.strip()}
            if role == "assistant":
                turn["agent"] = agent.strip()
            context.append(turn)
            continue
        labels = dict(defaults)
        if line.startswith("{"):
            spec, _, line = line[1:].partition("}")
            _apply(labels, spec, where=where)
            line = line.strip()
        items.append(_item(labels, line, context, where=where))
        context = []
    return items


def write(path: Path, items: list[dict[str, Any]], prefix: str) -> None:
    """Number the items ``<prefix>-0001``... and write them as JSONL.

    Args:
        path: Output file.
        items: Corpus items.
        prefix: Id prefix, e.g. ``tr``.
    """
    with path.open("w", encoding="utf-8") as out:
        for index, item in enumerate(items, start=1):
            item["id"] = f"{prefix}-{index:04d}"
            out.write(json.dumps(item, ensure_ascii=False) + "\n")


def build_train() -> list[dict[str, Any]]:
    """The train items in file order: ``train-a``, the composed ``train-b``, then ``train-c``.

    ``train-c`` comes last and is not given to :func:`compose.compose`, so adding it left the
    earlier items (and their ids) unchanged.
    """
    from compose import compose  # sibling script; this folder is not a package

    train = [i for f in sorted((HERE / "src").glob("train-*.txt")) for i in parse(f)]
    train += compose(train)
    train += [i for f in sorted((HERE / "src").glob("pass3-*.txt")) for i in parse(f)]
    train += [i for f in sorted((HERE / "src").glob("passd-*.txt")) for i in parse(f)]
    return train


def build_dev() -> list[dict[str, Any]]:
    """The dev items (passes ``dev-a`` and ``dev-b``) in file order."""
    return [i for f in sorted((HERE / "src").glob("dev-*.txt")) for i in parse(f)]


def main() -> None:
    """Build train.jsonl (hand-written, composed, then pass train-c) and dev.jsonl."""
    write(HERE / "train.jsonl", build_train(), "tr")
    write(HERE / "dev.jsonl", build_dev(), "dv")


if __name__ == "__main__":
    main()
