"""The wire contract: URIs, errors, argument validation, the time convention, array encoding, chunks.

The bottom layer: every other part of sisock imports it, and it imports
nothing of sisock but `sisock.config` (for defaults).
"""
