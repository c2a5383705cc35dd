"""Reusable test doubles for the whole suite (scripted chat models...)."""
