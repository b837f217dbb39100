"""Replay and synthesis pipeline for « Les nouveaux enjeux de la transition numérique des villes »."""

__version__ = "0.1.0"
