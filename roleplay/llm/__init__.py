"""The one LLM seam: the only code that knows about providers and their client libraries."""
