"""Services: what the faces (web pages, CLI) call. They use the core, grading and storage."""
