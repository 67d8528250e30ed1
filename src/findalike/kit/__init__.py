"""Shared by several apps, knowing none of them: the text search modes and relevance
figures (``hybrid``), people and objects in photos and videos (``sightings``)."""
