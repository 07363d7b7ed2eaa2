"""Decision reviews: the board samples decisions and records whether each was defensible."""
