"""Use cases, transport-neutral: a neutral message or button press in, neutral actions out.

Nothing here imports telegram or a WeCom SDK; a user id is a per-channel string.
"""
