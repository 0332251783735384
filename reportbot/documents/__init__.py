"""Files the bot sends: the statistics chart (PNG) and the ledger export (.xlsx)."""
