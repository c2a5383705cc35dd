"""Playbooks: named, versioned automations across personas and workflows."""
