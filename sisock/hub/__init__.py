"""The hub: which nodes exist (the registry), their presence, and the admin procedures on them.

``python -m sisock.hub`` (or ``sisock hub``) runs it.
"""
