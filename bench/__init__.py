"""Benchmarks: speed against floors and ceilings measured in the same run (`python -m bench`)."""
