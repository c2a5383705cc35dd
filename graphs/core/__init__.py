"""Process foundations: settings, logging, request context, database and migrations."""
