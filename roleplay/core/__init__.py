"""The core: personas, the director, the actors and the conversation (no storage, no faces)."""
