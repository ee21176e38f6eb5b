"""The read API (issue #18): the figures as data for other systems, with scoped tokens (``qsmon serve api``)."""
