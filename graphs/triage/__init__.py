"""Triage: persona, escalation level, risk and dialogue act of one turn (learned, local)."""
