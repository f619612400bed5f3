"""Roundtable: a Discord bot that turns a blog into a moderated discussion community."""

__version__ = "0.1.0"
