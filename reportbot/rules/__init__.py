"""Pure policy: parsing, masks, time windows, ownership decisions.

Nothing here performs I/O, reads the clock or imports a framework: every function takes the
values it needs (``now`` included) and returns plain frozen dataclasses.
"""
