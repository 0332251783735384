"""Application wiring: settings, the composition root, the command line and the transports."""
