"""Who is who: the organisation's groups and units, the users, their passwords and tokens, who may see what."""
