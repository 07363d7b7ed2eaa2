"""Finding people: the search index over parties, the search itself, duplicates and links."""
