"""MAPPA: nominals, the Level 2 and 3 MAPP meetings about them, and what those meetings agree."""
