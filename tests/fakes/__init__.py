"""Local stand-ins for services the bot talks to (WeCom has no public emulator)."""
