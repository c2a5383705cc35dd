"""The Grace supervisor graph, persona subgraphs, escalation and the workflow engine."""
