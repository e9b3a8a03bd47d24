"""Layer 1: the Realtime protocol core. Pure: no I/O, no asyncio, no widgets."""
