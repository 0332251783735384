"""reportbot: the channel-report (渠道报备 / 判客) ledger of a real-estate sales office, as a chat bot."""

__version__ = "0.1.0"
