"""Scoring extracted fields against keys (SROIE task 3) and the weak labelling's upper bound."""
