"""The HTTP surface of the ingress: request schemas, the OpenAI-compatible chat API, guards."""
