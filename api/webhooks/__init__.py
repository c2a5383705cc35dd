"""Inbound webhooks: Standard Webhooks verification and dispatch."""
