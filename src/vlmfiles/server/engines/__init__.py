"""Engines: what turns input files into a prediction's response (see ``base.py``)."""
