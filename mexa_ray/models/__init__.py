"""Model engines and loading: the LLM engines, checkpoints, weights, embeddings, GPU memory."""
