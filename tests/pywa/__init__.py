"""pywa 4.5.0, an independent Graph client, run unchanged against the simulator."""
