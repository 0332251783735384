"""Time: the clock every part reads (injected, so the console and tests can move it)."""
