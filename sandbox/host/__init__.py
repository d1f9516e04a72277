"""The sandbox Windows host: a Wine prefix, its wineserver and its command agent."""
