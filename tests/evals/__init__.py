"""Tests of the eval suites, their metrics, datasets, reports and gate."""
