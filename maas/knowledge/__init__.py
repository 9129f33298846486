"""Knowledge bases: document ingestion (load, clean, chunk), indexes and retrieval."""
