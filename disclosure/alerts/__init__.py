"""Repeat-subject alerts: raised when a subject keeps being named, reviewed for right to know."""
