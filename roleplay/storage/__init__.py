"""Durable storage: the tables, their migrations and the one class that talks to the database."""
