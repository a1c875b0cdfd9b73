"""``receipt-lightning serve``: an exported model behind HTTP (FastAPI on uvicorn)."""
