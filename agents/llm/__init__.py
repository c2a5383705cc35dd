"""LLM providers, Grace's structured-output router and the offline reply composer."""
