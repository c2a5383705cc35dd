"""The 14 operational workflows as data, and the engine that alone applies transitions."""
