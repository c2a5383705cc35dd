"""API security: keys with roles, principals, thread ownership, secret checks."""
