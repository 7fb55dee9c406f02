"""aboguard: subscription billing, collection and dunning for European merchants."""

__version__ = "0.1.0"
