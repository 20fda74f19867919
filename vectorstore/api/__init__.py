"""The vector API: the HTTP front door for RAG applications (`aifactory serve`)."""
